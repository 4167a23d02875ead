package dev.montage.runtime.engine;

import com.sun.jna.Function;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How the C library's allocator, which PyTorch's CPU tensors come from, treats large blocks.
 *
 * <p>By default glibc maps every block over a dynamic threshold (at most 32 MiB) afresh and unmaps it when freed, and
 * gives the top of its heap back to the system once 64 MiB of it are free. A denoising step allocates and frees the
 * same activation sizes over and over, so every step touched new pages again, and each first touch is a page fault
 * that zeroes the page (far dearer in a virtual machine whose host backs guest memory lazily).
 * {@link #keepFreedBlocks()} makes blocks up to 256 MiB come from the heap and keeps freed heap memory for reuse.
 * What stays cached is handed back with
 * {@link #releaseFreed()} where memory is freed on purpose: when released components close, and when a pipeline
 * closes.
 *
 * <p>Two settings only take effect from the process start, through glibc tunables in {@code GLIBC_TUNABLES}, which
 * {@code bin/montage} sets; {@link #describe()} reports whether they are on:
 * <ul>
 *   <li>{@code glibc.malloc.arena_max=1}: every thread allocates from the main heap. Otherwise each Java thread gets
 *       an arena of its own whose heaps hold at most 64 MiB, and there blocks over that size (a 512² float32 feed
 *       forward's projection) are mapped and unmapped on every call whatever the threshold, and a heap that empties
 *       is unmapped too (on the machine of BENCHMARKS.md a 512² float32 UNet step took 12.1 s instead of 15.2 s).
 *   <li>{@code glibc.malloc.hugetlb=1}: glibc asks for transparent huge pages for its new memory, so blocks over
 *       {@link #HEAP_BLOCK_LIMIT}, which are still mapped afresh each time, fault once per 2 MiB instead of per 4 KiB
 *       (on the machine of BENCHMARKS.md the 1024² VAE decode took a third of the time).
 * </ul>
 *
 * <p>Only glibc is tuned; with other C libraries both methods do nothing. The JVM property
 * {@code montage.malloc=default} leaves the allocator as it is.
 */
public final class NativeMemory {
    static final String PROPERTY = "montage.malloc";
    /** mallopt parameters of glibc's malloc.h. */
    private static final int M_TRIM_THRESHOLD = -1;
    private static final int M_MMAP_THRESHOLD = -3;
    /**
     * The main heap serves blocks up to this size. A thread on an arena of its own (see
     * {@link #ARENAS_TUNABLE}) gets at most 64 MiB from it whatever the threshold (checked with glibc 2.36).
     */
    static final int HEAP_BLOCK_LIMIT = 256 << 20;

    /** The glibc tunable (2.35 and later) that makes malloc ask for transparent huge pages. */
    static final String HUGE_PAGES_TUNABLE = "glibc.malloc.hugetlb";
    /** The glibc tunable that caps the number of malloc arenas; 1 puts every thread on the main heap. */
    static final String ARENAS_TUNABLE = "glibc.malloc.arena_max";
    /** The older environment variable for {@link #ARENAS_TUNABLE}. */
    private static final String ARENAS_VARIABLE = "MALLOC_ARENA_MAX";
    private static final Path THP_MODE = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");

    private static final Function MALLOPT = libc("mallopt");
    private static volatile boolean tuned;
    private static final Function MALLOC_TRIM = libc("malloc_trim");

    private NativeMemory() {
    }

    /**
     * Serves blocks up to {@link #HEAP_BLOCK_LIMIT} from the heap and stops giving its free top back to the system.
     * Process-wide and idempotent.
     *
     * @return whether the allocator was tuned (glibc, and not opted out)
     */
    static boolean keepFreedBlocks() {
        if (MALLOPT == null || "default".equals(System.getProperty(PROPERTY))) {
            return false;
        }
        boolean trim = MALLOPT.invokeInt(new Object[] {M_TRIM_THRESHOLD, Integer.MAX_VALUE}) == 1;
        boolean mmap = MALLOPT.invokeInt(new Object[] {M_MMAP_THRESHOLD, HEAP_BLOCK_LIMIT}) == 1;
        tuned = trim && mmap;
        return tuned;
    }

    /**
     * How the allocator is set up, for benchmark reports: e.g. {@code glibc malloc, freed blocks kept, one arena,
     * huge pages requested (kernel: madvise)}.
     */
    public static String describe() {
        if (MALLOPT == null) {
            return "not glibc malloc";
        }
        String tunables = System.getenv("GLIBC_TUNABLES");
        String arenas = singleArena(tunables, System.getenv(ARENAS_VARIABLE)) ? "one arena"
                : "an arena per thread (GLIBC_TUNABLES=" + ARENAS_TUNABLE + "=1 asks)";
        String kernel = transparentHugePages(THP_MODE);
        String hugePages = hugePagesRequested(tunables)
                ? "huge pages requested (kernel: " + kernel + ")"
                : "huge pages not requested (kernel: " + kernel + "; GLIBC_TUNABLES=" + HUGE_PAGES_TUNABLE + "=1 asks)";
        return "glibc malloc, " + (tuned ? "freed blocks kept" : "as configured") + ", " + arenas + ", " + hugePages;
    }

    /** Whether a {@code GLIBC_TUNABLES} value turns {@link #HUGE_PAGES_TUNABLE} on (1 = THP, 2 = hugetlbfs pages). */
    static boolean hugePagesRequested(String tunables) {
        String on = tunable(tunables, HUGE_PAGES_TUNABLE);
        return "1".equals(on) || "2".equals(on);
    }

    /**
     * Whether malloc keeps to one arena: {@link #ARENAS_TUNABLE} in {@code GLIBC_TUNABLES} is 1, or, where that does
     * not name it, {@code MALLOC_ARENA_MAX} is.
     */
    static boolean singleArena(String tunables, String arenaMaxVariable) {
        String max = tunable(tunables, ARENAS_TUNABLE);
        return "1".equals(max == null ? arenaMaxVariable : max);
    }

    /** The last value a {@code GLIBC_TUNABLES} string gives {@code name}, or null. */
    private static String tunable(String tunables, String name) {
        if (tunables == null) {
            return null;
        }
        String value = null;
        for (String tunable : tunables.split(":")) {
            if (tunable.startsWith(name + "=")) {
                value = tunable.substring(name.length() + 1);
            }
        }
        return value;
    }

    /** The selected mode of a kernel THP setting file ({@code always [madvise] never}), or "unknown". */
    static String transparentHugePages(Path setting) {
        try {
            String line = Files.readString(setting);
            int open = line.indexOf('[');
            int close = line.indexOf(']', open + 1);
            return open < 0 || close < 0 ? "unknown" : line.substring(open + 1, close);
        } catch (IOException | SecurityException e) {
            return "unknown";
        }
    }

    /** Gives the allocator's free memory back to the system (glibc's {@code malloc_trim(0)}). */
    public static void releaseFreed() {
        if (MALLOC_TRIM != null) {
            MALLOC_TRIM.invokeInt(new Object[] {0});
        }
    }

    private static Function libc(String name) {
        try {
            return Function.getFunction("c", name);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return null;
        }
    }
}

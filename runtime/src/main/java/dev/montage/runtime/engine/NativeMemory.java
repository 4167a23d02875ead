package dev.montage.runtime.engine;

import com.sun.jna.Function;

/**
 * How the C library's allocator, which PyTorch's CPU tensors come from, treats large blocks.
 *
 * <p>By default glibc maps every block over a dynamic threshold (at most 32 MiB) afresh and unmaps it when freed, and
 * gives the top of its heap back to the system once 64 MiB of it are free. A denoising step allocates and frees the
 * same activation sizes over and over, so every step touched new pages again, and each first touch is a page fault
 * that zeroes the page (far dearer in a virtual machine whose host backs guest memory lazily).
 * {@link #keepFreedBlocks()} makes blocks up to 256 MiB come from the heap and keeps freed heap memory for reuse;
 * BENCHMARKS.md has load and step times with and without. What stays cached is handed back with
 * {@link #releaseFreed()} where memory is freed on purpose: when released components close, and when a pipeline
 * closes.
 *
 * <p>Only glibc is tuned; with other C libraries both methods do nothing. The JVM property
 * {@code montage.malloc=default} leaves the allocator as it is.
 */
public final class NativeMemory {
    static final String PROPERTY = "montage.malloc";
    /** mallopt parameters of glibc's malloc.h. */
    private static final int M_TRIM_THRESHOLD = -1;
    private static final int M_MMAP_THRESHOLD = -3;
    /** Larger blocks (the VAE's full-resolution activations) are still mapped and unmapped each time. */
    static final int HEAP_BLOCK_LIMIT = 256 << 20;

    private static final Function MALLOPT = libc("mallopt");
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
        return trim && mmap;
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

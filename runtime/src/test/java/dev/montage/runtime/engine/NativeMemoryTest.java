package dev.montage.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Function;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeMemoryTest {

    /** glibc's {@code struct mallinfo2}: sizes and counts of the allocator's memory. */
    public static final class MallInfo2 extends Structure implements Structure.ByValue {
        public long arena;
        public long ordblks;
        public long smblks;
        public long hblks;
        public long hblkhd;
        public long usmblks;
        public long fsmblks;
        public long uordblks;
        public long fordblks;
        public long keepcost;

        @Override
        protected List<String> getFieldOrder() {
            return List.of("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                    "fordblks", "keepcost");
        }
    }

    @Test
    void blocksOfActivationSizeComeFromTheHeapOnceTuned() {
        Function mallinfo2 = glibc("mallinfo2");
        assumeTrue(mallinfo2 != null, "not glibc 2.33 or later");
        assertTrue(NativeMemory.keepFreedBlocks(), "mallopt refused the settings");
        Function malloc = glibc("malloc");
        Function free = glibc("free");

        // 40 MiB: over glibc's largest dynamic threshold, so by default a mapping of its own
        long mappedBefore = mapped(mallinfo2);
        Pointer block = (Pointer) malloc.invoke(Pointer.class, new Object[] {40L << 20});
        long mappedWith = mapped(mallinfo2);
        free.invokeVoid(new Object[] {block});

        assertEquals(mappedBefore, mappedWith, "the 40 MiB block was mapped on its own");
        NativeMemory.releaseFreed();
    }

    @Test
    void theJvmPropertyLeavesTheAllocatorAlone() {
        String before = System.getProperty(NativeMemory.PROPERTY);
        System.setProperty(NativeMemory.PROPERTY, "default");
        try {
            assertFalse(NativeMemory.keepFreedBlocks());
        } finally {
            if (before == null) {
                System.clearProperty(NativeMemory.PROPERTY);
            } else {
                System.setProperty(NativeMemory.PROPERTY, before);
            }
        }
    }

    @Test
    void hugePagesCountAsRequestedOnlyWhenTheLastHugetlbTunableTurnsThemOn() {
        assertFalse(NativeMemory.hugePagesRequested(null));
        assertFalse(NativeMemory.hugePagesRequested(""));
        assertTrue(NativeMemory.hugePagesRequested("glibc.malloc.hugetlb=1"));
        assertTrue(NativeMemory.hugePagesRequested("glibc.malloc.trim_threshold=5:glibc.malloc.hugetlb=2"));
        assertFalse(NativeMemory.hugePagesRequested("glibc.malloc.hugetlb=0"));
        assertFalse(NativeMemory.hugePagesRequested("glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=0"));
        assertFalse(NativeMemory.hugePagesRequested("glibc.malloc.hugetlbx=1"));
    }

    @Test
    void oneArenaOnlyWhenTheLastArenaMaxTunableOrElseTheVariableIsOne() {
        assertFalse(NativeMemory.singleArena(null, null));
        assertTrue(NativeMemory.singleArena("glibc.malloc.arena_max=1", null));
        assertTrue(NativeMemory.singleArena("glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1", "4"));
        assertFalse(NativeMemory.singleArena("glibc.malloc.arena_max=1:glibc.malloc.arena_max=2", null));
        assertFalse(NativeMemory.singleArena("glibc.malloc.arena_max=2", "1"));
        assertTrue(NativeMemory.singleArena("glibc.malloc.hugetlb=1", "1"));
        assertFalse(NativeMemory.singleArena("glibc.malloc.arena_max=10", null));
        assertFalse(NativeMemory.singleArena("glibc.malloc.arena_test=1", null));
    }

    @Test
    void theKernelsTransparentHugePageModeIsTheBracketedWord(@TempDir Path tmp) throws IOException {
        assertEquals("madvise", NativeMemory.transparentHugePages(
                Files.writeString(tmp.resolve("enabled"), "always [madvise] never\n")));
        assertEquals("unknown", NativeMemory.transparentHugePages(Files.writeString(tmp.resolve("odd"), "always")));
        assertEquals("unknown", NativeMemory.transparentHugePages(tmp.resolve("absent")));
    }

    @Test
    void theDescriptionSaysWhetherOneArenaAndHugePagesWereRequested() {
        assumeTrue(glibc("mallopt") != null, "not glibc");
        String described = NativeMemory.describe();

        assertTrue(described.startsWith("glibc malloc, "), described);
        assertTrue(described.contains(NativeMemory.hugePagesRequested(System.getenv("GLIBC_TUNABLES"))
                ? "huge pages requested" : "huge pages not requested"), described);
        assertTrue(described.contains(NativeMemory.singleArena(System.getenv("GLIBC_TUNABLES"),
                System.getenv("MALLOC_ARENA_MAX")) ? ", one arena, " : ", an arena per thread ("), described);
    }

    private static long mapped(Function mallinfo2) {
        return ((MallInfo2) mallinfo2.invoke(MallInfo2.class, new Object[0])).hblks;
    }

    private static Function glibc(String name) {
        try {
            return Function.getFunction("c", name);
        } catch (UnsatisfiedLinkError e) {
            return null;
        }
    }
}

package dev.montage.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Function;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.util.List;
import org.junit.jupiter.api.Test;

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

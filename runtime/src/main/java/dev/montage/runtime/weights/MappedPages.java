package dev.montage.runtime.weights;

import com.sun.jna.Function;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;

/**
 * Takes the pages of a file mapping out of the process's resident memory once they have been copied, with
 * {@code madvise(MADV_DONTNEED)}. The pages are clean file pages, so a later read of the mapping faults them in again
 * from the page cache: nothing is lost, and converted weights are not resident twice until a GC unmaps the file.
 * Where the C library has no {@code madvise} (Windows) this does nothing.
 */
final class MappedPages {
    private static final int MADV_DONTNEED = 4;
    private static final long PAGE = 4096;
    private static final Function MADVISE = lookup();

    private MappedPages() {
    }

    /** Drops the whole pages between {@code mapped}'s position and limit (a direct buffer; others are ignored). */
    static void drop(ByteBuffer mapped) {
        if (MADVISE == null || !mapped.isDirect()) {
            return;
        }
        long base = Pointer.nativeValue(Native.getDirectBufferPointer(mapped));
        long start = (base + mapped.position() + PAGE - 1) / PAGE * PAGE;
        long end = (base + mapped.limit()) / PAGE * PAGE;
        if (end > start) {
            // a failure (e.g. larger pages than assumed) only leaves the pages resident, as without this call
            MADVISE.invokeInt(new Object[] {new Pointer(start), end - start, MADV_DONTNEED});
        }
    }

    private static Function lookup() {
        try {
            return Function.getFunction("c", "madvise");
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return null;
        }
    }
}

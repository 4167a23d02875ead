package dev.montage.dist;

import com.sun.jna.Function;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Drops a file's pages from the operating system's page cache ({@code posix_fadvise(POSIX_FADV_DONTNEED)}), so that
 * the next read of it comes from the disk: what {@code montage bench --cold-cache} does before each load and read, to
 * measure loads against reading the file from disk rather than from memory. Pages that some process has mapped and
 * touched, and dirty pages, stay; so does whatever the disk or a virtual machine's host caches beneath the kernel.
 */
final class PageCache {
    private static final int O_RDONLY = 0;
    private static final int POSIX_FADV_DONTNEED = 4;
    private static final Function OPEN = lookup("open");
    private static final Function FADVISE = lookup("posix_fadvise");
    private static final Function CLOSE = lookup("close");

    private PageCache() {
    }

    /** Whether the C library offers what {@link #evict} needs (Linux and other POSIX systems). */
    static boolean supported() {
        return OPEN != null && FADVISE != null && CLOSE != null;
    }

    /**
     * @throws IOException naming the file when it cannot be opened or the kernel refuses the advice
     * @throws UnsupportedOperationException where {@link #supported()} is false
     */
    static void evict(Path file) throws IOException {
        if (!supported()) {
            throw new UnsupportedOperationException("dropping files from the page cache needs posix_fadvise, which "
                    + "this system's C library lacks");
        }
        int fd = OPEN.invokeInt(new Object[] {file.toString(), O_RDONLY});
        if (fd < 0) {
            throw new IOException("cannot open " + file + " to drop it from the page cache");
        }
        try {
            // the whole file: offset 0, length 0; posix_fadvise returns the error number instead of setting errno
            int error = FADVISE.invokeInt(new Object[] {fd, 0L, 0L, POSIX_FADV_DONTNEED});
            if (error != 0) {
                throw new IOException("the kernel refused to drop " + file + " from the page cache (error " + error
                        + ")");
            }
        } finally {
            CLOSE.invokeInt(new Object[] {fd});
        }
    }

    private static Function lookup(String name) {
        try {
            return Function.getFunction("c", name);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return null;
        }
    }
}

package dev.montage.dist;

import com.sun.jna.Function;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The process's standard error (file descriptor 2) as the {@code montage} command uses it: whether a terminal shows
 * it, and, while {@link #filter} is in effect, everything written to it (by Java and by native libraries alike, in
 * the order written) passing through a {@link NoiseFilter} before it reaches the original stream. Native code writes
 * to the descriptor directly, so the filter sits on the descriptor: it is pointed at a pipe that a thread reads.
 * Where the C library's functions are missing, nothing is filtered.
 */
final class StandardError implements AutoCloseable {
    private static final int FD = 2;
    private static final Function DUP = libc("dup");
    private static final Function DUP2 = libc("dup2");
    private static final Function PIPE = libc("pipe");
    private static final Function READ = libc("read");
    private static final Function WRITE = libc("write");
    private static final Function CLOSE = libc("close");
    private static final Function ISATTY = libc("isatty");
    private static volatile Boolean terminal;

    private final int original;
    private final int pipe;
    private final NoiseFilter filter;
    private final Thread reader;
    private final AtomicBoolean closed = new AtomicBoolean();

    private StandardError(int original, int pipe, NoiseFilter filter) {
        this.original = original;
        this.pipe = pipe;
        this.filter = filter;
        this.reader = new Thread(this::pump, "montage-stderr-filter");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Whether standard error is a terminal (a person watches it, so progress may redraw one line), as it was when
     * first asked: ask before {@link #filter} points it at a pipe.
     */
    static boolean isTerminal() {
        if (terminal == null) {
            terminal = ISATTY != null ? ISATTY.invokeInt(new Object[] {FD}) == 1 : System.console() != null;
        }
        return terminal;
    }

    /**
     * Filters standard error from now until {@link #close}.
     *
     * @return the filter in effect, or {@code null} where it cannot be set up (then standard error is as it was)
     */
    static StandardError filter() {
        isTerminal();
        if (DUP == null || DUP2 == null || PIPE == null || READ == null || WRITE == null || CLOSE == null) {
            return null;
        }
        int[] ends = new int[2];
        if (PIPE.invokeInt(new Object[] {ends}) != 0) {
            return null;
        }
        int original = DUP.invokeInt(new Object[] {FD});
        if (original < 0 || DUP2.invokeInt(new Object[] {ends[1], FD}) < 0) {
            close(ends[0], ends[1], original);
            return null;
        }
        close(ends[1]);
        StandardError filter = new StandardError(original, ends[0], new NoiseFilter(NoiseFilter.NATIVE_NOISE,
                new DescriptorStream(original)));
        // a process ended by a signal (montage serve) never returns to close it: what its last moments wrote must
        // still come out
        Runtime.getRuntime().addShutdownHook(new Thread(filter::close, "montage-stderr-restore"));
        return filter;
    }

    /** The lines left out so far, as {@code N x LINE}. */
    List<String> filtered() {
        return filter.report();
    }

    private void pump() {
        byte[] buffer = new byte[8192];
        try {
            while (true) {
                long n = READ.invokeLong(new Object[] {pipe, buffer, (long) buffer.length});
                if (n <= 0) {
                    break;
                }
                filter.write(buffer, 0, (int) n);
            }
            filter.end();
        } catch (IOException | RuntimeException e) {
            // the original stream takes writes directly again, so nothing blocks on a full pipe
            DUP2.invokeInt(new Object[] {original, FD});
        }
    }

    /**
     * Points standard error back at the original stream and waits (a little) until everything written before has
     * gone through the filter.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        System.err.flush();
        DUP2.invokeInt(new Object[] {original, FD});
        try {
            // the pipe ends when no descriptor writes to it any more: a child process that inherited it may hold it
            reader.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!reader.isAlive()) {
            close(pipe);
        }
    }

    private static void close(int... descriptors) {
        for (int d : descriptors) {
            if (d >= 0) {
                CLOSE.invokeInt(new Object[] {d});
            }
        }
    }

    private static Function libc(String name) {
        try {
            return Function.getFunction("c", name);
        } catch (LinkageError | RuntimeException e) {
            // no C library JNA can reach (or JNA's own native part failed to load): standard error stays as it is
            return null;
        }
    }

    /** Writes to a file descriptor, sharing its file offset with every other descriptor of the same open file. */
    private static final class DescriptorStream extends OutputStream {
        private final int fd;

        DescriptorStream(int fd) {
            this.fd = fd;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            byte[] chunk = offset == 0 ? bytes : Arrays.copyOfRange(bytes, offset, offset + length);
            int done = 0;
            while (done < length) {
                byte[] rest = done == 0 ? chunk : Arrays.copyOfRange(chunk, done, length);
                long n = WRITE.invokeLong(new Object[] {fd, rest, (long) (length - done)});
                if (n <= 0) {
                    throw new IOException("cannot write to the original standard error");
                }
                done += (int) n;
            }
        }
    }
}

package dev.montage.runtime.weights;

import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.util.function.Function;
import sun.misc.Unsafe;

/**
 * The direct buffer that stored tensor bytes pass through on their way to a converted array, grown to the largest
 * tensor read and reused by every read of one load. Its memory (as large as the largest tensor: 126 MB for an fp16
 * SDXL UNet, twice that for a bf16 one) is freed at once by {@link #release()} when the load is over, not whenever
 * the garbage collector gets to it. Each load has its own, so loads of different pipelines never wait for each
 * other; reads of one load take turns.
 */
public final class StagingBuffer implements AutoCloseable {
    private static final int MIN_BYTES = 64 << 20;
    private static final Unsafe UNSAFE = unsafe();

    private ByteBuffer buffer;

    /**
     * Runs {@code body} with the buffer cleared and at least {@code bytes} large; no other read uses it meanwhile.
     * The buffer must not be used after {@code body} returns.
     */
    public synchronized <T> T use(long bytes, Function<ByteBuffer, T> body) {
        if (buffer == null || buffer.capacity() < bytes) {
            free();
            buffer = ByteBuffer.allocateDirect(Math.toIntExact(Math.max(bytes, MIN_BYTES)));
        }
        return body.apply(buffer.clear());
    }

    /** The bytes held now (0 once released). */
    public synchronized long capacity() {
        return buffer == null ? 0 : buffer.capacity();
    }

    /** Frees the memory now; a later read allocates again. */
    public synchronized void release() {
        free();
    }

    @Override
    public void close() {
        release();
    }

    private void free() {
        if (buffer != null) {
            // a direct buffer's memory otherwise stays until a collection finds the buffer unreachable
            UNSAFE.invokeCleaner(buffer);
            buffer = null;
        }
    }

    private static Unsafe unsafe() {
        try {
            Field f = Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}

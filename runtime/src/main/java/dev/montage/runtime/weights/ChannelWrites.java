package dev.montage.runtime.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/** Writes weights' bytes to a channel without the JDK copying a whole heap buffer into a direct one first. */
final class ChannelWrites {
    /**
     * The JDK copies a heap buffer written to a channel into a temporary direct buffer of its size and keeps that
     * buffer cached per thread; slices of this size keep the copy small.
     */
    private static final int WRITE_CHUNK = 8 << 20;

    private ChannelWrites() {
    }

    /** Writes all of {@code source}'s remaining bytes; its position is left as it was. */
    static void writeFully(WritableByteChannel channel, ByteBuffer source) throws IOException {
        ByteBuffer remaining = source.duplicate();
        while (remaining.hasRemaining()) {
            ByteBuffer chunk = remaining.slice();
            chunk.limit(Math.min(chunk.remaining(), WRITE_CHUNK));
            remaining.position(remaining.position() + channel.write(chunk));
        }
    }
}

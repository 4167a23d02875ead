package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Offsets past 2 GiB, on a sparse file: only the header and the bytes the test checks are written, the
 * rest is a hole, so the 4.4 GiB file costs no disk space.
 */
class SafetensorsLargeFileTest {
    private static final long PAD = 15L << 27; // 1.875 GiB
    private static final long SPAN = 1L << 28; // 256 MiB of F32: crosses the 2 GiB mark
    private static final long TAIL = 16; // 4 x F32, entirely past 2 GiB
    private static final long HUGE = (1L << 31) + (1L << 28); // 2.25 GiB: too large for one buffer

    @TempDir
    Path dir;

    @Test
    void tensorsBeyondTwoGibAreReadable() throws IOException {
        Path file = dir.resolve("large.safetensors");
        String header = "{" + entry("a.pad", "U8", PAD, 0, PAD) + ","
                + entry("b.span", "F32", SPAN / 4, PAD, PAD + SPAN) + ","
                + entry("c.tail", "F32", TAIL / 4, PAD + SPAN, PAD + SPAN + TAIL) + ","
                + entry("d.huge", "U8", HUGE, PAD + SPAN + TAIL, PAD + SPAN + TAIL + HUGE) + "}";
        byte[] headerBytes = header.getBytes(StandardCharsets.UTF_8);
        long dataStart = 8 + headerBytes.length;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length).array());
            raf.write(headerBytes);
            raf.setLength(dataStart + PAD + SPAN + TAIL + HUGE);
            writeFloats(raf, dataStart + PAD, 1.5f);
            writeFloats(raf, dataStart + PAD + SPAN - 4, -3.25f);
            writeFloats(raf, dataStart + PAD + SPAN, 1f, 2f, 3f, 4f);
        }
        assertTrue(file.toFile().length() > (4L << 30));

        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertEquals(List.of("a.pad", "b.span", "c.tail", "d.huge"), List.copyOf(reader.names()));
            assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, reader.tensor("c.tail").toFloatArray());

            ByteBuffer span = reader.tensor("b.span").data();
            assertEquals(SPAN, span.remaining());
            assertEquals(1.5f, span.getFloat(0));
            assertEquals(-3.25f, span.getFloat((int) SPAN - 4));

            ByteBuffer pad = reader.tensor("a.pad").data();
            assertEquals(0, pad.get((int) PAD - 1));

            TensorInfo huge = reader.info("d.huge");
            assertEquals(HUGE, huge.byteSize());
            assertArrayEquals(new long[] {HUGE}, huge.shape());
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> reader.tensor("d.huge"));
            assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("tensor 'd.huge'")
                    && e.getMessage().contains("2 GiB"), e.getMessage());
        }
    }

    private static String entry(String name, String dtype, long numel, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + numel + "],\"data_offsets\":["
                + begin + "," + end + "]}";
    }

    private static void writeFloats(RandomAccessFile raf, long position, float... values) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        raf.seek(position);
        raf.write(b.array());
    }
}

package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    @Test
    void everyDtypeScalarAndEmptyShapesRoundTrip() throws IOException {
        List<RawTensor> written = new ArrayList<>();
        for (TensorDType dtype : TensorDType.values()) {
            String base = dtype.safetensorsName().toLowerCase();
            written.add(tensor(base + ".matrix", dtype, 2, 3));
            written.add(tensor(base + ".scalar", dtype));
            written.add(tensor(base + ".empty", dtype, 0));
            written.add(tensor(base + ".empty3d", dtype, 2, 0, 3));
        }
        Map<String, String> metadata = Map.of("format", "pt", "note", "round trip");
        Path file = dir.resolve("all.safetensors");
        SafetensorsWriter.write(file, metadata, written);

        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertEquals(metadata, reader.metadata());
            assertEquals(file, reader.path());
            assertEquals(written.size(), reader.names().size());
            for (RawTensor expected : written) {
                TensorInfo info = reader.info(expected.name());
                assertEquals(new TensorInfo(expected.name(), expected.dtype(), expected.shape()), info);
                RawTensor actual = reader.tensor(expected.name());
                assertEquals(expected.dtype(), actual.dtype());
                assertArrayEquals(expected.shape(), actual.shape());
                assertEquals(expected.data(), actual.data(), expected.name());
                assertTrue(actual.data().isReadOnly());
            }
        }
    }

    @Test
    void tensorsAreOrderedLikeTheRustLibrary() throws IOException {
        Path file = dir.resolve("order.safetensors");
        SafetensorsWriter writer = new SafetensorsWriter();
        // added in scrambled order; expected: descending Rust dtype rank, then name
        for (String name : List.of("b", "a")) {
            for (TensorDType dtype : TensorDType.values()) {
                writer.add(tensor(dtype.safetensorsName() + "." + name, dtype, 1));
            }
        }
        writer.write(file);
        List<String> expected = new ArrayList<>();
        for (String dtype : List.of("I64", "F64", "F32", "I32", "BF16", "F16", "I16", "I8", "U8", "BOOL")) {
            expected.add(dtype + ".a");
            expected.add(dtype + ".b");
        }
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertEquals(expected, List.copyOf(reader.names()));
        }
    }

    @Test
    void emptyFileMatchesRustBytes() throws IOException {
        Path file = dir.resolve("empty.safetensors");
        new SafetensorsWriter().write(file);
        assertEquals("0800000000000000" + "7b7d" + "202020202020", HexFormat.of().formatHex(Files.readAllBytes(file)));

        new SafetensorsWriter().metadata("framework", "pt").write(file);
        assertEquals("{\"__metadata__\":{\"framework\":\"pt\"}}     ", RawSafetensors.headerText(file));
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertTrue(reader.names().isEmpty());
            assertEquals(Map.of("framework", "pt"), reader.metadata());
        }
    }

    @Test
    void headerLayoutMatchesRustBytes() throws IOException {
        Path file = dir.resolve("one.safetensors");
        ByteBuffer data = floats(0, 1, 2, 3, 4, 5);
        new SafetensorsWriter().add("attn.0", TensorDType.F32, new long[] {1, 2, 3}, data).write(file);
        byte[] bytes = Files.readAllBytes(file);
        String header = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
        assertEquals(header, RawSafetensors.headerText(file));
        assertEquals(64, header.length(), "already a multiple of 8: no padding");
        assertEquals(8 + 64 + 24, bytes.length);
        assertEquals(64, bytes[0]);

        new SafetensorsWriter().add("attn0", TensorDType.F32, new long[] {1, 1, 2, 3}, data).write(file);
        assertEquals("{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ",
                RawSafetensors.headerText(file));
    }

    @Test
    void namesAndMetadataAreEscapedLikeSerdeJson() throws IOException {
        Path file = dir.resolve("escape.safetensors");
        String name = "q\"b\\n\nt\tc\u0001\u007f é ✓";
        new SafetensorsWriter().metadata("k\u001f", "v\r").add(tensor(name, TensorDType.U8, 1)).write(file);
        String header = RawSafetensors.headerText(file);
        assertTrue(header.startsWith("{\"__metadata__\":{\"k\\u001f\":\"v\\r\"},"
                + "\"q\\\"b\\\\n\\nt\\tc\\u0001\u007f é ✓\":"), header);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertEquals(List.of(name), List.copyOf(reader.names()));
            assertEquals(Map.of("k\u001f", "v\r"), reader.metadata());
        }
    }

    @Test
    void metadataKeysAreSorted() throws IOException {
        Path file = dir.resolve("meta.safetensors");
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("generator", "test");
        metadata.put("format", "pt");
        SafetensorsWriter.write(file, metadata, List.of());
        assertTrue(RawSafetensors.headerText(file).startsWith(
                "{\"__metadata__\":{\"format\":\"pt\",\"generator\":\"test\"}}"));
    }

    @Test
    void lazyTensorsAreProducedAtWriteTimeAndChecked() throws IOException {
        Path file = dir.resolve("lazy.safetensors");
        int[] calls = {0};
        SafetensorsWriter writer = new SafetensorsWriter().addLazy("x", TensorDType.F32, new long[] {3}, () -> {
            calls[0]++;
            return floats(1, 2, 3);
        });
        assertEquals(0, calls[0]);
        writer.write(file);
        assertEquals(1, calls[0]);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertArrayEquals(new float[] {1, 2, 3}, reader.tensor("x").toFloatArray());
        }

        Path bad = dir.resolve("bad.safetensors");
        SafetensorsWriter wrong = new SafetensorsWriter().addLazy("y", TensorDType.F32, new long[] {3}, () -> floats(1));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> wrong.write(bad));
        assertTrue(e.getMessage().contains("'y'") && e.getMessage().contains("expected 12"), e.getMessage());
        assertFalse(Files.exists(bad), "a failed write leaves no partial file");
    }

    /**
     * Tensors produced ahead, concurrently and finishing out of order, give the file a one-at-a-time write gives; a
     * tensor starts only once every tensor more than the given count before it in the file is done; a supplier's
     * failure is the write's, leaving no file.
     */
    @Test
    void tensorsProducedAheadGiveTheSameFileWithinTheirCount() throws IOException {
        int count = 40;
        int ahead = 3;
        AtomicBoolean[] done = new AtomicBoolean[count];
        List<String> early = Collections.synchronizedList(new ArrayList<>());
        Path sequential = dir.resolve("sequential.safetensors");
        Path concurrent = dir.resolve("ahead.safetensors");
        for (Path file : List.of(sequential, concurrent)) {
            SafetensorsWriter writer = new SafetensorsWriter().producedAhead(file == concurrent ? ahead : 0);
            for (int i = 0; i < count; i++) {
                int index = i;
                done[i] = new AtomicBoolean();
                writer.addLazy(String.format("t%02d", i), TensorDType.F32, new long[] {2}, () -> {
                    for (int before = 0; before < index - ahead; before++) {
                        if (!done[before].get()) {
                            early.add("t" + index + " before t" + before + " was done");
                        }
                    }
                    try {
                        Thread.sleep(index * 7 % 5);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    done[index].set(true);
                    return floats(index, -index);
                });
            }
            writer.write(file);
        }
        assertArrayEquals(Files.readAllBytes(sequential), Files.readAllBytes(concurrent));
        assertEquals(List.of(), early);

        Path failed = dir.resolve("failed.safetensors");
        SafetensorsWriter failing = new SafetensorsWriter().producedAhead(ahead)
                .addLazy("a", TensorDType.F32, new long[] {1}, () -> floats(1))
                .addLazy("b", TensorDType.F32, new long[] {1}, () -> {
                    throw new IllegalArgumentException("no values for b");
                });
        assertEquals("no values for b", assertThrows(IllegalArgumentException.class,
                () -> failing.write(failed)).getMessage());
        assertFalse(Files.exists(failed), "a failed write leaves no partial file");
        assertThrows(IllegalArgumentException.class, () -> new SafetensorsWriter().producedAhead(-1));
        assertProducersEnd();
    }

    /** The threads that produce tensors ahead belong to one write and end with it (allowing them a few seconds). */
    private static void assertProducersEnd() {
        long deadline = System.nanoTime() + 10_000_000_000L;
        List<String> alive;
        do {
            alive = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                    .filter(name -> name.equals("safetensors-producer")).toList();
        } while (!alive.isEmpty() && System.nanoTime() < deadline && sleep());
        assertEquals(List.of(), alive);
    }

    private static boolean sleep() {
        try {
            Thread.sleep(20);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Test
    void writerRefusesBadTensors() {
        SafetensorsWriter writer = new SafetensorsWriter().add(tensor("a", TensorDType.U8, 2));
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
                () -> writer.add(tensor("a", TensorDType.U8, 2)));
        assertTrue(twice.getMessage().contains("'a' added twice"), twice.getMessage());
        assertThrows(IllegalArgumentException.class, () -> writer.add(tensor("__metadata__", TensorDType.U8, 1)));
        IllegalArgumentException size = assertThrows(IllegalArgumentException.class,
                () -> writer.add("b", TensorDType.F32, new long[] {2}, ByteBuffer.allocate(7)));
        assertTrue(size.getMessage().contains("'b'") && size.getMessage().contains("expected 8"), size.getMessage());
    }

    @Test
    void valuesDecodeAfterRoundTrip() throws IOException {
        Path file = dir.resolve("values.safetensors");
        ByteBuffer half = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
        half.putShort(HalfFloats.fromFloat(1.5f)).putShort(HalfFloats.fromFloat(-2f)).putShort(HalfFloats.fromFloat(0.25f));
        ByteBuffer longs = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-7).putLong(1L << 40);
        new SafetensorsWriter()
                .add("h", TensorDType.F16, new long[] {3}, half.flip())
                .add("l", TensorDType.I64, new long[] {2}, longs.flip())
                .write(file);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertArrayEquals(new float[] {1.5f, -2f, 0.25f}, reader.tensor("h").toFloatArray());
            ByteBuffer l = reader.tensor("l").data();
            assertEquals(-7, l.getLong());
            assertEquals(1L << 40, l.getLong());
        }
    }

    @Test
    void f16TensorsAreStoredAsBf16RoundedToNearestEvenAndOtherDtypesRefused() throws IOException {
        Path source = dir.resolve("f16.safetensors");
        // 1 + 2^-8 lies halfway between two bf16 values and rounds to the even one, 1 + 3·2^-9 rounds up
        float[] values = {1.5f, -2f, 1 + 0x1p-8f, 1 + 3 * 0x1p-9f, Float.NEGATIVE_INFINITY};
        ByteBuffer half = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            half.putShort(HalfFloats.fromFloat(v));
        }
        new SafetensorsWriter().add("h", TensorDType.F16, new long[] {values.length}, half.flip())
                .add("l", TensorDType.I64, new long[] {1}, ByteBuffer.allocate(8)).write(source);
        Path file = dir.resolve("bf16.safetensors");
        try (SafetensorsReader reader = SafetensorsReader.open(source)) {
            new SafetensorsWriter().add(reader, "h", TensorDType.BF16).write(file);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new SafetensorsWriter().add(reader, "l", TensorDType.BF16));
            assertTrue(e.getMessage().contains("'l'") && e.getMessage().contains("is i64 and cannot be stored as bf16"),
                    e.getMessage());
        }
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertEquals(TensorDType.BF16, reader.info("h").dtype());
            ByteBuffer stored = reader.tensor("h").data();
            float[] read = new float[values.length];
            for (int i = 0; i < read.length; i++) {
                read[i] = HalfFloats.bf16ToFloat(stored.getShort());
            }
            assertArrayEquals(new float[] {1.5f, -2f, 1f, 1 + 0x1p-7f, Float.NEGATIVE_INFINITY}, read);
        }
    }

    /** A tensor whose bytes count up from a value derived from the name, so mix-ups show. */
    static RawTensor tensor(String name, TensorDType dtype, long... shape) {
        int size = (int) (RawTensor.numel(shape) * dtype.byteSize());
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (name.hashCode() + i * 7);
        }
        return new RawTensor(name, dtype, shape, ByteBuffer.wrap(bytes));
    }

    static ByteBuffer floats(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.flip();
    }
}

package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.weights.TorchCheckpointWriter.Parameter;
import dev.montage.runtime.weights.TorchCheckpointWriter.Storage;
import dev.montage.runtime.weights.TorchCheckpointWriter.View;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TorchCheckpointWriterTest {
    @TempDir
    Path dir;

    /** A tensor of the given type holding {@code values} (converted as torch's {@code .to(dtype)} would). */
    static RawTensor tensor(TensorDType dtype, long[] shape, double... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            switch (dtype) {
                case F32 -> b.putFloat((float) v);
                case F16 -> b.putShort(HalfFloats.fromFloat((float) v));
                case BF16 -> b.putShort(HalfFloats.floatToBf16((float) v));
                case I64 -> b.putLong((long) v);
                default -> throw new IllegalArgumentException(dtype.toString());
            }
        }
        return new RawTensor("t", dtype, shape, b.flip());
    }

    private static Storage floatStorage(int n) {
        ByteBuffer b = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putFloat(i);
        }
        return new Storage(TensorDType.F32, b.flip());
    }

    /** Nested dicts, four dtypes, a scalar, parameters, a RawTensor written twice and views of one storage. */
    static Map<String, Object> sample() {
        RawTensor twice = tensor(TensorDType.F32, new long[] {2}, 7, 8);
        Storage shared = floatStorage(10);
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("f32", tensor(TensorDType.F32, new long[] {2, 3}, 1, 2, 3, 4, 5, 6));
        model.put("f16", tensor(TensorDType.F16, new long[] {4}, 0.5, -1, 65504, 1e-7));
        model.put("bf16", tensor(TensorDType.BF16, new long[] {2, 2}, 1, -2, 3e38, 0.1));
        model.put("i64", tensor(TensorDType.I64, new long[] {3}, -1, 0, 1L << 40));
        model.put("nested", Map.of("scalar", tensor(TensorDType.F32, new long[0], 42)));
        model.put("empty", Map.of());
        Map<String, Object> views = new LinkedHashMap<>();
        views.put("head", new View(shared, 0, new long[] {4}, new long[] {1}));
        views.put("matrix", new View(shared, 4, new long[] {2, 3}, new long[] {3, 1}));
        views.put("transposed", new View(shared, 4, new long[] {3, 2}, new long[] {1, 3}));
        views.put("frozen", new Parameter(new View(shared, 9, new long[] {1}, new long[] {1}), false));
        // empty, but its dimension needs pickle's LONG1 (beyond 32 bits)
        views.put("none", new View(shared, 0, new long[] {0, 3_000_000_000L}, new long[] {3_000_000_000L, 1}));
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("model", model);
        root.put("views", views);
        root.put("first", twice);
        root.put("second", twice);
        root.put("dummy_image_tokens", new Parameter(tensor(TensorDType.F32, new long[] {1, 2}, 0.25, -0.75)));
        return root;
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void roundTripsThroughTheReader(boolean zip64) throws IOException {
        Path file = dir.resolve("sample.bin");
        TorchCheckpointWriter.write(file, sample(), zip64);
        try (TorchCheckpointReader reader = TorchCheckpointReader.open(file)) {
            Map<String, RawTensor> t = reader.flatten();
            assertEquals(List.of("model.f32", "model.f16", "model.bf16", "model.i64", "model.nested.scalar",
                    "views.head", "views.matrix", "views.transposed", "views.frozen", "views.none", "first", "second",
                    "dummy_image_tokens"), new ArrayList<>(t.keySet()));
            assertValues(t.get("model.f32"), TensorDType.F32, new long[] {2, 3}, 1, 2, 3, 4, 5, 6);
            assertValues(t.get("model.f16"), TensorDType.F16, new long[] {4}, 0.5f, -1, 65504,
                    HalfFloats.toFloat(HalfFloats.fromFloat(1e-7f)));
            assertValues(t.get("model.bf16"), TensorDType.BF16, new long[] {2, 2}, 1, -2,
                    HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(3e38f)),
                    HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(0.1f)));
            assertEquals(1L << 40, t.get("model.i64").data().getLong(16));
            assertValues(t.get("model.nested.scalar"), TensorDType.F32, new long[0], 42);
            assertValues(t.get("views.head"), TensorDType.F32, new long[] {4}, 0, 1, 2, 3);
            assertValues(t.get("views.matrix"), TensorDType.F32, new long[] {2, 3}, 4, 5, 6, 7, 8, 9);
            assertValues(t.get("views.transposed"), TensorDType.F32, new long[] {3, 2}, 4, 7, 5, 8, 6, 9);
            assertValues(t.get("views.frozen"), TensorDType.F32, new long[] {1}, 9);
            assertValues(t.get("views.none"), TensorDType.F32, new long[] {0, 3_000_000_000L});
            assertValues(t.get("first"), TensorDType.F32, new long[] {2}, 7, 8);
            assertValues(t.get("second"), TensorDType.F32, new long[] {2}, 7, 8);
            assertValues(t.get("dummy_image_tokens"), TensorDType.F32, new long[] {1, 2}, 0.25f, -0.75f);
            Map<?, ?> model = (Map<?, ?>) ((Map<?, ?>) reader.root()).get("model");
            assertEquals(Map.of(), model.get("empty"));
        }
    }

    @Test
    void laysTheArchiveOutLikeTorch() throws IOException {
        Path file = dir.resolve("ms_adapter.bin");
        TorchCheckpointWriter.write(file, sample());
        List<String> names = new ArrayList<>();
        try (ZipFile zip = new ZipFile(file.toFile())) { // an independent reader, which also checks CRCs
            for (ZipEntry entry : Collections.list(zip.entries())) {
                names.add(entry.getName());
                assertEquals(ZipEntry.STORED, entry.getMethod());
                zip.getInputStream(entry).readAllBytes();
            }
            assertEquals("3\n", new String(zip.getInputStream(zip.getEntry("ms_adapter/version")).readAllBytes()));
            assertEquals("little", new String(zip.getInputStream(zip.getEntry("ms_adapter/byteorder"))
                    .readAllBytes()));
        }
        // 8 storages: 5 model tensors, the shared one, the tensor written twice, the parameter
        assertEquals(List.of("ms_adapter/data.pkl", "ms_adapter/byteorder", "ms_adapter/data/0", "ms_adapter/data/1",
                "ms_adapter/data/2", "ms_adapter/data/3", "ms_adapter/data/4", "ms_adapter/data/5",
                "ms_adapter/data/6", "ms_adapter/data/7", "ms_adapter/version"), names);
        try (ZipArchive archive = ZipArchive.open(file)) {
            ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            for (ZipArchive.Entry entry : archive.entries().values()) {
                long at = entry.localHeaderOffset();
                long dataOffset = at + 30 + bytes.getShort((int) at + 26) + bytes.getShort((int) at + 28);
                assertEquals(0, dataOffset % 64, entry.name() + " starts at " + dataOffset);
            }
        }
    }

    @Test
    void replacesAFileWhoseTensorsAreStillInUse() throws IOException {
        Path file = dir.resolve("model.bin");
        TorchCheckpointWriter.write(file, Map.of("w", tensor(TensorDType.F32, new long[] {2}, 1, 2)));
        try (TorchCheckpointReader old = TorchCheckpointReader.open(file)) {
            RawTensor before = old.flatten().get("w");
            TorchCheckpointWriter.write(file, Map.of("w", tensor(TensorDType.F32, new long[] {3}, 3, 4, 5)));
            assertArrayEquals(new float[] {1, 2}, before.toFloatArray(), "the old mapping survives");
        }
        try (TorchCheckpointReader reader = TorchCheckpointReader.open(file)) {
            assertArrayEquals(new float[] {3, 4, 5}, reader.flatten().get("w").toFloatArray());
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList(), "no temporary file is left behind");
        }
    }

    @Test
    void refusesUnsupportedValuesNamingThem() {
        Map<String, Object> root = Map.of("config", Map.of("steps", 30));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TorchCheckpointWriter.write(dir.resolve("bad.bin"), root));
        assertTrue(e.getMessage().contains("'config.steps'"), e.getMessage());
    }

    @Test
    void refusesViewsPastTheirStorage() {
        Storage storage = floatStorage(4);
        assertThrows(IllegalArgumentException.class, () -> new View(storage, 2, new long[] {3}, new long[] {1}));
        assertThrows(IllegalArgumentException.class, () -> new View(storage, 0, new long[] {2}, new long[] {1, 1}));
    }

    @Test
    void producesEachLazyStorageOnceAsItIsWritten() throws IOException {
        List<String> produced = new ArrayList<>();
        Map<String, Object> root = new LinkedHashMap<>();
        for (String name : List.of("a", "b", "c")) {
            Storage lazy = new Storage(TensorDType.F32, 3, () -> {
                produced.add(name);
                return tensor(TensorDType.F32, new long[] {3}, name.charAt(0), 1, 2).data();
            });
            root.put(name, View.contiguous(lazy, new long[] {3, 1}));
        }
        Path file = dir.resolve("lazy.bin");
        TorchCheckpointWriter.write(file, root);
        assertEquals(List.of("a", "b", "c"), produced, "once each, in the order of their entries");
        try (TorchCheckpointReader reader = TorchCheckpointReader.open(file)) {
            assertValues(reader.flatten().get("b"), TensorDType.F32, new long[] {3, 1}, 'b', 1, 2);
        }
    }

    @Test
    void refusesALazyStorageOfTheWrongSizeNamingItsEntryAndLeavesNoFile() throws IOException {
        Storage lazy = new Storage(TensorDType.F32, 4, () -> tensor(TensorDType.F32, new long[] {3}, 1, 2, 3).data());
        Map<String, Object> root = Map.of("w", View.contiguous(lazy, new long[] {4}));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TorchCheckpointWriter.write(dir.resolve("short.bin"), root));
        assertEquals("storage short/data/0: supplied 12 bytes, expected 16 for 4 f32 elements", e.getMessage());
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.toList());
        }
    }

    @Test
    void storesNarrowedTensorsRoundedToNearestEven() throws IOException {
        RawTensor weights = tensor(TensorDType.F32, new long[] {2, 2}, 1.0 / 3, -65519.0, 1e-8, 3.0);
        Path file = dir.resolve("narrow.bin");
        TorchCheckpointWriter.write(file, Map.of("half", View.narrowed(weights, TensorDType.F16),
                "brain", View.narrowed(weights, TensorDType.BF16)));
        try (TorchCheckpointReader reader = TorchCheckpointReader.open(file)) {
            Map<String, RawTensor> t = reader.flatten();
            float[] values = weights.toFloatArray();
            float[] half = new float[4];
            float[] brain = new float[4];
            for (int i = 0; i < 4; i++) {
                half[i] = HalfFloats.toFloat(HalfFloats.fromFloat(values[i]));
                brain[i] = HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(values[i]));
            }
            assertValues(t.get("half"), TensorDType.F16, new long[] {2, 2}, half);
            assertValues(t.get("brain"), TensorDType.BF16, new long[] {2, 2}, brain);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> View.narrowed(tensor(TensorDType.I64, new long[] {1}, 7), TensorDType.F16));
        assertTrue(e.getMessage().startsWith("tensor 't' is i64 and cannot be stored as f16"), e.getMessage());
    }

    private static void assertValues(RawTensor t, TensorDType dtype, long[] shape, float... values) {
        assertEquals(dtype, t.dtype(), t.name());
        assertArrayEquals(shape, t.shape(), t.name());
        assertArrayEquals(values, t.toFloatArray(), t.name());
    }
}

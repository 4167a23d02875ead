package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.testing.Golden;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointWeightsTest {
    private static final String TOKEN_EMBEDDING = "text_model.embeddings.token_embedding.weight";

    private static LocalModelFolder textEncoder2(ComputeDType dtype) {
        return new LocalModelFolder(Golden.model().resolve("text_encoder_2"), Optional.empty(), Device.cpu(), dtype,
                null);
    }

    @Test
    void upcastsTheF16TokenEmbeddingExactly() throws Exception {
        try (LocalModelFolder folder = textEncoder2(ComputeDType.FLOAT32);
                SafetensorsReader raw = SafetensorsReader.open(folder.path().resolve("model.safetensors"));
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDArray e = folder.weights().get(TOKEN_EMBEDDING, manager, 49408, 32);
            assertEquals(DataType.FLOAT32, e.getDataType());
            assertEquals(Device.cpu(), e.getDevice());
            assertArrayEquals(raw.tensor(TOKEN_EMBEDDING).toFloatArray(), e.toFloatArray());
        }
    }

    @Test
    void convertedTensorsAreReadWithoutMappingTheFile(@TempDir Path dir) throws Exception {
        Path maps = Path.of("/proc/self/maps");
        assumeTrue(Files.isReadable(maps), "needs /proc/self/maps to see the mappings");
        float[] a = {1.5f, -2f, 0.25f, 3f};
        float[] b = {7f, 8f, -9f, 10f, 11f, 12f};
        Path file = dir.resolve("weights.safetensors");
        new SafetensorsWriter().add("a", TensorDType.F16, new long[] {2, 2}, halves(a))
                .add("b", TensorDType.F16, new long[] {6}, halves(b))
                .add("c", TensorDType.F32, new long[] {2}, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .putFloat(4f).putFloat(5f).flip())
                .write(file);
        try (SafetensorsReader source = SafetensorsReader.open(file);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelWeights weights = new CheckpointWeights(source, Device.cpu(), ComputeDType.FLOAT32, null);
            NDArray first = weights.get("a", manager);
            // read through the buffer "a" went through: "a" must be a copy by now
            NDArray second = weights.get("b", manager);
            assertArrayEquals(a, first.toFloatArray());
            assertArrayEquals(b, second.toFloatArray());
            assertFalse(isMapped(maps, file), "the converted F16 tensors left the file mapped");
            // F32 in F32 compute is a view of the mapped file, which shows that the check above can fail
            assertArrayEquals(new float[] {4f, 5f}, weights.get("c", manager).toFloatArray());
            assertTrue(isMapped(maps, file));
        }
    }

    @Test
    void convertedTorchCheckpointTensorsStayReadableAfterTheirPagesAreDropped(@TempDir Path dir) throws Exception {
        // several pages of F16, so that MappedPages has whole pages to drop
        float[] values = new float[20_000];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i % 2048) - 1024;
        }
        Path file = dir.resolve("adapter.bin");
        TorchCheckpointWriter.write(file, Map.of("w", new RawTensor("w", TensorDType.F16,
                new long[] {values.length}, halves(values))));
        try (TorchCheckpointSource source = TorchCheckpointSource.open(file);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelWeights weights = new CheckpointWeights(source, Device.cpu(), ComputeDType.FLOAT32, null);
            assertArrayEquals(values, weights.get("w", manager).toFloatArray());
            // the second read faults the dropped pages in again from the file
            assertArrayEquals(values, weights.get("w", manager).toFloatArray());
        }
    }

    private static ByteBuffer halves(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putShort(HalfFloats.fromFloat(v));
        }
        return b.flip();
    }

    private static boolean isMapped(Path maps, Path file) throws IOException {
        return Files.readString(maps).contains(file.toRealPath().toString());
    }

    @Test
    void narrowsToFloat16Compute() throws Exception {
        try (LocalModelFolder folder = textEncoder2(ComputeDType.FLOAT16);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDArray w = folder.weights().get("text_projection.weight", manager);
            assertEquals(DataType.FLOAT16, w.getDataType());
            NDArray e = folder.weights().get(TOKEN_EMBEDDING, manager);
            assertEquals(DataType.FLOAT16, e.getDataType());
        }
    }

    @Test
    void prefixedViewsUseCheckpointNames() throws Exception {
        try (LocalModelFolder folder = textEncoder2(ComputeDType.FLOAT32);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelWeights layer = folder.weights().prefixed("text_model").prefixed("encoder.layers.0");
            assertTrue(layer.contains("self_attn.q_proj.weight"));
            assertFalse(layer.contains("text_model.encoder.layers.0.self_attn.q_proj.weight"));
            assertArrayEquals(new long[] {32, 32}, layer.shape("self_attn.q_proj.weight"));
            NDArray q = layer.get("self_attn.q_proj.weight", manager);
            assertArrayEquals(new long[] {32, 32}, q.getShape().getShape());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> layer.get("self_attn.q_proj.weight", manager, 32, 64));
            assertTrue(e.getMessage().contains("[text_model.encoder.layers.0]"), e.getMessage());
            assertTrue(e.getMessage().contains("has shape [32, 32], expected [32, 64]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> layer.get("nope", manager));
            assertTrue(e.getMessage().contains("has no tensor 'nope'"), e.getMessage());
        }
    }

    @Test
    void reportsMissingAndUnexpectedKeysTogether() {
        try (LocalModelFolder folder = textEncoder2(ComputeDType.FLOAT32)) {
            ModelWeights mlp = folder.weights().prefixed("text_model.encoder.layers.2.mlp");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> mlp.requireExactly(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc3.weight")));
            assertTrue(e.getMessage().contains("1 missing [fc3.weight]"), e.getMessage());
            assertTrue(e.getMessage().contains("1 unexpected [fc2.bias]"), e.getMessage());
            mlp.requireExactly(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"));
        }
    }

    @Test
    void everyGoldenComponentLoadsAsArrays() {
        for (String component : List.of("unet", "vae", "text_encoder", "text_encoder_2", "image_encoder", "controlnet")) {
            try (LocalModelFolder folder = new LocalModelFolder(Golden.model().resolve(component), Optional.of("fp16"),
                    Device.cpu(), ComputeDType.FLOAT32, null);
                    NDManager manager = NDManager.newBaseManager(Device.cpu())) {
                assertTrue(folder.config().has("_class_name") || folder.config().has("architectures"), component);
                for (String name : folder.weights().names()) {
                    try (NDArray a = folder.weights().get(name, manager)) {
                        assertArrayEquals(folder.weights().shape(name), a.getShape().getShape(), name);
                    }
                }
            }
        }
    }
}

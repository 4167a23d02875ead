package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.testing.Golden;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pickled weights reach model code through the same {@link ModelWeights} as safetensors. */
class TorchWeightsTest {
    @TempDir
    Path dir;

    private static RawTensor f32(String name, long[] shape, float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return new RawTensor(name, TensorDType.F32, shape, b.flip());
    }

    @Test
    void msAdapterSubDictionariesAreWeights() throws Exception {
        try (TensorSource source = TensorSource.open(Golden.model().resolve("ms_adapter.bin"));
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelWeights all = new CheckpointWeights(source, Device.cpu(), ComputeDType.FLOAT32, null);
            ModelWeights proj = all.prefixed("image_proj");
            assertEquals(37, proj.names().size());
            assertArrayEquals(new long[] {1, 4, 32}, proj.shape("grounding_latents"));
            NDArray dummy = all.get("dummy_image_tokens", manager, 1, 4, 64);
            assertEquals(19.5104, dummy.sum().getFloat(), 1e-3);
            assertEquals(24, all.prefixed("ms_adapter").names().size());
        }
    }

    @Test
    void binFoldersAndTheirShardIndexesLoad() throws Exception {
        Map<String, Object> first = new LinkedHashMap<>();
        first.put("a.weight", f32("a.weight", new long[] {2}, 1, 2));
        Map<String, Object> second = new LinkedHashMap<>();
        second.put("b.weight", f32("b.weight", new long[] {1}, 3));
        TorchCheckpointWriter.write(dir.resolve("pytorch_model-00001-of-00002.bin"), first);
        TorchCheckpointWriter.write(dir.resolve("pytorch_model-00002-of-00002.bin"), second);
        Files.writeString(dir.resolve("pytorch_model.bin.index.json"), "{\"metadata\":{},\"weight_map\":{"
                + "\"a.weight\":\"pytorch_model-00001-of-00002.bin\",\"b.weight\":\"pytorch_model-00002-of-00002.bin\"}}");
        try (LocalModelFolder folder = new LocalModelFolder(dir, Optional.empty(), Device.cpu(), ComputeDType.FLOAT32,
                null); NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            assertTrue(folder.weights().names().containsAll(java.util.List.of("a.weight", "b.weight")));
            assertArrayEquals(new float[] {1, 2}, folder.weights().get("a.weight", manager).toFloatArray());
            assertArrayEquals(new float[] {3}, folder.weights().get("b.weight", manager).toFloatArray());
        }
    }
}

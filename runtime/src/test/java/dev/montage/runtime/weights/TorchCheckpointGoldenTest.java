package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.weights.TorchCheckpointWriter.Parameter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MS-Diffusion's {@code ms_adapter.bin} as written by torch 1.13 (golden README section 1). */
class TorchCheckpointGoldenTest {
    private Path adapter;

    @TempDir
    Path dir;

    @BeforeEach
    void findGolden() {
        Path golden = Path.of(System.getProperty("montage.golden.dir", "../shared/golden"));
        adapter = golden.resolve("tiny-sdxl-msd/ms_adapter.bin");
        Assumptions.assumeTrue(Files.isRegularFile(adapter), "skipped: no golden folder");
    }

    @Test
    void readsTheAdapterCheckpoint() throws IOException {
        try (TorchCheckpointReader reader = TorchCheckpointReader.open(adapter)) {
            Map<?, ?> root = (Map<?, ?>) reader.root();
            assertEquals(List.of("image_proj", "ms_adapter", "dummy_image_tokens"), List.copyOf(root.keySet()));

            RawTensor dummy = (RawTensor) root.get("dummy_image_tokens"); // pickled as an nn.Parameter
            assertEquals(TensorDType.F32, dummy.dtype());
            assertArrayEquals(new long[] {1, 4, 64}, dummy.shape());
            assertEquals(19.510353, sum(dummy), 1e-4);

            Map<?, ?> msAdapter = (Map<?, ?>) root.get("ms_adapter");
            assertEquals(24, msAdapter.size());
            for (Map.Entry<?, ?> e : msAdapter.entrySet()) {
                assertTrue(((String) e.getKey()).matches("\\d+\\.to_[kv]_ip\\.weight"), (String) e.getKey());
                RawTensor weight = (RawTensor) e.getValue();
                assertEquals(TensorDType.F32, weight.dtype());
                assertArrayEquals(new long[] {64, 64}, weight.shape());
            }
            assertTrue(msAdapter.containsKey("1.to_k_ip.weight"));
            assertTrue(msAdapter.containsKey("23.to_v_ip.weight"));

            Map<String, RawTensor> tensors = reader.flatten();
            assertEquals(37 + 24 + 1, tensors.size());
            assertShape(tensors, "image_proj.grounding_latents", 1, 4, 32);
            assertShape(tensors, "image_proj.latent_proj.0.weight", 192, 96);
            assertShape(tensors, "image_proj.proj_in.weight", 32, 32);
            assertShape(tensors, "image_proj.proj_out.weight", 64, 32);
            assertShape(tensors, "image_proj.norm_out.bias", 64);
            assertShape(tensors, "image_proj.layers.1.0.to_kv.weight", 64, 32);
            assertShape(tensors, "image_proj.layers.1.1.3.weight", 32, 128);
            assertEquals(0.16243436, sum(tensors.get("image_proj.proj_in.weight")), 1e-5);
            float[] toK = tensors.get("ms_adapter.1.to_k_ip.weight").toFloatArray();
            assertEquals(0.008331298828125f, toK[0]); // exactly representable in float16, as the README says
            assertEquals(0.89052039, sum(tensors.get("ms_adapter.1.to_k_ip.weight")), 1e-5);
            assertNotEquals(0.0, sum(tensors.get("image_proj.latent_proj.2.bias")));
        }
    }

    /** What the writer makes of the adapter reads back identically. */
    @Test
    void rewritesTheAdapterCheckpoint() throws IOException {
        Path copy = dir.resolve("ms_adapter.bin");
        Map<String, RawTensor> original;
        try (TorchCheckpointReader reader = TorchCheckpointReader.open(adapter)) {
            original = reader.flatten();
            Map<String, Object> root = new LinkedHashMap<>();
            ((Map<?, ?>) reader.root()).forEach((key, value) -> root.put((String) key, value));
            root.put("dummy_image_tokens", new Parameter(root.get("dummy_image_tokens")));
            TorchCheckpointWriter.write(copy, root);
        }
        try (TorchCheckpointReader reader = TorchCheckpointReader.open(copy)) {
            Map<String, RawTensor> rewritten = reader.flatten();
            assertEquals(List.copyOf(original.keySet()), List.copyOf(rewritten.keySet()));
            // storage keys are numbered and sorted as torch does; torch 1.13 wrote no byteorder record
            List<String> entries = entryNames(copy);
            entries.remove("ms_adapter/byteorder");
            assertEquals(entryNames(adapter), entries);
            original.forEach((name, tensor) -> {
                RawTensor other = rewritten.get(name);
                assertEquals(tensor.dtype(), other.dtype(), name);
                assertArrayEquals(tensor.shape(), other.shape(), name);
                assertEquals(tensor.data(), other.data(), name);
            });
        }
    }

    private static List<String> entryNames(Path file) throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            return zip.stream().map(ZipEntry::getName).collect(Collectors.toCollection(ArrayList::new));
        }
    }

    private static void assertShape(Map<String, RawTensor> tensors, String name, long... shape) {
        assertTrue(tensors.containsKey(name), name);
        assertArrayEquals(shape, tensors.get(name).shape(), name);
    }

    private static double sum(RawTensor t) {
        double s = 0;
        for (float v : t.toFloatArray()) {
            s += v;
        }
        return s;
    }
}

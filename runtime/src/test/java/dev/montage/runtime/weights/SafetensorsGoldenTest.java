package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.testing.Golden;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The golden tiny SDXL + MS-Diffusion checkpoint and case files, read in place (never copied). */
class SafetensorsGoldenTest {
    @TempDir
    Path tmp;

    private Path golden;

    @BeforeEach
    void findGolden() {
        golden = Golden.dir();
    }

    @Test
    void everyModelFileOpensAndIsConsistent() throws IOException {
        List<Path> files = safetensorsUnder(golden.resolve("tiny-sdxl-msd"));
        Set<String> components = files.stream().map(f -> f.getParent().getFileName().toString())
                .collect(Collectors.toSet());
        assertTrue(components.containsAll(
                Set.of("unet", "vae", "text_encoder", "text_encoder_2", "image_encoder", "controlnet")), components::toString);
        for (Path file : files) {
            try (SafetensorsReader reader = SafetensorsReader.open(file)) {
                assertFalse(reader.names().isEmpty(), file::toString);
                assertEquals(Map.of("format", "pt"), reader.metadata(), file::toString);
                for (String name : reader.names()) {
                    TensorInfo info = reader.info(name);
                    RawTensor tensor = reader.tensor(name);
                    assertEquals(info.numel() * info.dtype().byteSize(), tensor.data().remaining(), name);
                    assertArrayEquals(info.shape(), tensor.shape(), name);
                }
            }
        }
    }

    @Test
    void textEncoder2StoresOnlyTheTokenEmbeddingAsF16() throws IOException {
        String embedding = "text_model.embeddings.token_embedding.weight";
        try (SafetensorsReader reader = open("tiny-sdxl-msd/text_encoder_2/model.safetensors")) {
            assertEquals(new TensorInfo(embedding, TensorDType.F16, new long[] {49408, 32}), reader.info(embedding));
            for (String name : reader.names()) {
                if (!name.equals(embedding)) {
                    assertEquals(TensorDType.F32, reader.info(name).dtype(), name);
                }
            }
            assertShape(reader, "text_projection.weight", 32, 32);
            float[] values = reader.tensor(embedding).toFloatArray();
            assertEquals(49408 * 32, values.length);
            assertTrue(Float.isFinite(values[0]) && Float.isFinite(values[values.length - 1]));
        }
    }

    @Test
    void knownShapesFromTheConfigs() throws IOException {
        try (SafetensorsReader unet = open("tiny-sdxl-msd/unet/diffusion_pytorch_model.safetensors")) {
            assertShape(unet, "conv_in.weight", 32, 4, 3, 3);
            assertShape(unet, "conv_out.weight", 4, 32, 3, 3);
            // projection_class_embeddings_input_dim 80 = 6 x 8 time ids + 32 pooled text
            assertShape(unet, "add_embedding.linear_1.weight", 128, 80);
        }
        try (SafetensorsReader vae = open("tiny-sdxl-msd/vae/diffusion_pytorch_model.safetensors")) {
            assertShape(vae, "encoder.conv_in.weight", 32, 3, 3, 3);
            assertShape(vae, "quant_conv.weight", 8, 8, 1, 1);
        }
        try (SafetensorsReader text = open("tiny-sdxl-msd/text_encoder/model.safetensors")) {
            assertShape(text, "text_model.embeddings.token_embedding.weight", 49408, 32);
            assertShape(text, "text_model.embeddings.position_embedding.weight", 77, 32);
        }
        try (SafetensorsReader image = open("tiny-sdxl-msd/image_encoder/model.safetensors")) {
            assertShape(image, "vision_model.embeddings.patch_embedding.weight", 32, 3, 4, 4);
            assertShape(image, "vision_model.embeddings.class_embedding", 32);
        }
        try (SafetensorsReader controlnet = open("tiny-sdxl-msd/controlnet/diffusion_pytorch_model.safetensors")) {
            assertShape(controlnet, "controlnet_cond_embedding.conv_in.weight", 16, 3, 3, 3);
        }
    }

    @Test
    void caseFilesOpenWithF32AndI64Only() throws IOException {
        List<Path> files = safetensorsUnder(golden.resolve("cases"));
        assertFalse(files.isEmpty());
        for (Path file : files) {
            try (SafetensorsReader reader = SafetensorsReader.open(file)) {
                assertFalse(reader.names().isEmpty(), file::toString);
                EnumSet<TensorDType> dtypes = EnumSet.noneOf(TensorDType.class);
                for (String name : reader.names()) {
                    dtypes.add(reader.info(name).dtype());
                    assertEquals(reader.info(name).byteSize(), reader.tensor(name).data().remaining(), name);
                }
                assertEquals(EnumSet.of(TensorDType.F32, TensorDType.I64), dtypes, file::toString);
            }
        }
    }

    /** Re-writing what was read reproduces every golden file byte for byte (they were written by Python). */
    @Test
    void writerReproducesGoldenFilesExactly() throws IOException {
        List<Path> files = safetensorsUnder(golden);
        assertFalse(files.isEmpty());
        for (Path file : files) {
            Path copy = tmp.resolve("copy.safetensors");
            try (SafetensorsReader reader = SafetensorsReader.open(file)) {
                SafetensorsWriter writer = new SafetensorsWriter().metadata(reader.metadata());
                reader.names().forEach(name -> writer.add(reader.tensor(name)));
                writer.write(copy);
            }
            assertEquals(-1, Files.mismatch(file, copy), () -> "first differing byte in the copy of " + file);
        }
    }

    private SafetensorsReader open(String relative) throws IOException {
        return SafetensorsReader.open(golden.resolve(relative));
    }

    private static void assertShape(SafetensorsReader reader, String name, long... shape) {
        assertArrayEquals(shape, reader.info(name).shape(), name);
    }

    private static List<Path> safetensorsUnder(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        }
    }
}

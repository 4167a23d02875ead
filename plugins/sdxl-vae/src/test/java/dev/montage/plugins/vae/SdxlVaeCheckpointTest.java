package dev.montage.plugins.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.LocalModelFolder;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint naming variants and the errors a VAE folder that does not fit its config produces. */
class SdxlVaeCheckpointTest {
    private static final String ATTENTION = "decoder.mid_block.attentions.0.";
    private static final Map<String, String> LEGACY = Map.of(
            "to_q", "query", "to_k", "key", "to_v", "value", "to_out.0", "proj_attn");

    @TempDir
    Path dir;

    /** Copies the tiny VAE with tensor names rewritten (null drops a tensor) and the config edited. */
    private LocalModelFolder copy(UnaryOperator<String> rename, Consumer<Map<String, Object>> editConfig,
            RawTensor... extra) throws IOException {
        Path source = Golden.model().resolve("vae");
        Path target = Files.createDirectories(dir.resolve("vae"));
        SafetensorsWriter writer = new SafetensorsWriter();
        try (SafetensorsReader reader = SafetensorsReader.open(source.resolve("diffusion_pytorch_model.safetensors"))) {
            for (String name : reader.names()) {
                String renamed = rename.apply(name);
                if (renamed != null) {
                    writer.add(reader.tensor(name).renamed(renamed));
                }
            }
            for (RawTensor t : extra) {
                writer.add(t);
            }
            writer.write(target.resolve("diffusion_pytorch_model.safetensors"));
        }
        ObjectMapper json = new ObjectMapper();
        @SuppressWarnings("unchecked")
        Map<String, Object> config = json.readValue(source.resolve("config.json").toFile(), LinkedHashMap.class);
        editConfig.accept(config);
        json.writeValue(target.resolve("config.json").toFile(), config);
        return TestEngine.folder(target);
    }

    private static SdxlVae load(LocalModelFolder folder) {
        return new SdxlVae(folder, TestEngine.manager(), TestEngine.kernels(), TestEngine.dtype(), VaeOptions.DEFAULT);
    }

    @Test
    void readsPre014AttentionNames() throws IOException {
        UnaryOperator<String> legacy = name -> {
            for (Map.Entry<String, String> e : LEGACY.entrySet()) {
                if (name.startsWith("decoder.mid_block.attentions.0." + e.getKey() + ".")
                        || name.startsWith("encoder.mid_block.attentions.0." + e.getKey() + ".")) {
                    return name.replace(".attentions.0." + e.getKey() + ".", ".attentions.0." + e.getValue() + ".");
                }
            }
            return name;
        };
        try (LocalModelFolder folder = copy(legacy, c -> { });
                SdxlVae vae = load(folder);
                GoldenTensors golden = GoldenTensors.open("single_subject_euler");
                NDManager m = TestEngine.manager().newSubManager()) {
            assertTrue(folder.weights().contains(ATTENTION + "proj_attn.weight"));
            NDArray image = vae.decode(m, SdxlVaeGoldenTest.goldenArray(golden, "final_latents", m));
            golden.assertClose("image", image, 1e-4);
            try (LatentDecoder.Posterior posterior = vae.encode(m, image)) {
                assertEquals(4, posterior.mean().getShape().get(1));
            }
        }
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        try (LocalModelFolder folder = copy(n -> n.equals("decoder.conv_out.bias") ? null : n, c -> { })) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(folder));
            assertTrue(e.getMessage().contains("conv_out.bias"), e.getMessage());
        }
    }

    @Test
    void tensorsTheConfigHasNoPlaceForAreNamed() throws IOException {
        RawTensor stray = new RawTensor("decoder.up_blocks.0.resnets.7.norm1.weight",
                TensorDType.F32, new long[] {32}, ByteBuffer.allocate(4 * 32).order(ByteOrder.LITTLE_ENDIAN));
        try (LocalModelFolder folder = copy(n -> n, c -> { }, stray)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(folder));
            assertTrue(e.getMessage().contains("decoder.up_blocks.0.resnets.7.norm1.weight"), e.getMessage());
        }
    }

    @Test
    void layersPerBlockMismatchIsReported() throws IOException {
        try (LocalModelFolder folder = copy(n -> n, c -> c.put("layers_per_block", 2))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(folder));
            assertTrue(e.getMessage().contains("up_blocks.0.resnets.2"), e.getMessage());
        }
    }

    @Test
    void decoderWithoutMidAttentionWhenTheConfigSaysSo() throws IOException {
        try (LocalModelFolder folder = copy(n -> n.contains(".mid_block.attentions.") ? null : n,
                c -> c.put("mid_block_add_attention", false));
                SdxlVae vae = load(folder);
                NDManager m = TestEngine.manager().newSubManager()) {
            NDArray image = vae.decode(m, SdxlVaeShapeTest.gaussian(m, 1, 1, 4, 4, 4));
            SdxlVaeShapeTest.assertImage(image, new Shape(1, 3, 32, 32));
        }
    }

    @Test
    void unsupportedBlockTypesNameTheKey() throws IOException {
        try (LocalModelFolder folder = copy(n -> n, c -> c.put("up_block_types",
                List.of("UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "AttnUpDecoderBlock2D")))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(folder));
            assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("up_block_types"),
                    e.getMessage());
        }
    }
}

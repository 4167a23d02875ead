package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.host.ModelConfig;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The vision side of {@link ClipConfig}, with the real CLIP-ViT-bigG-14 configuration (no weights needed). */
class ClipVisionConfigTest {
    /** The {@code image_encoder/config.json} MS-Diffusion uses for SDXL (CLIPVisionModelWithProjection, bigG/14). */
    static final Map<String, Object> BIG_G = Map.ofEntries(
            Map.entry("architectures", List.of("CLIPVisionModelWithProjection")),
            Map.entry("model_type", "clip_vision_model"), Map.entry("hidden_act", "gelu"),
            Map.entry("hidden_size", 1664), Map.entry("image_size", 224), Map.entry("intermediate_size", 8192),
            Map.entry("layer_norm_eps", 1e-5), Map.entry("num_attention_heads", 16), Map.entry("num_channels", 3),
            Map.entry("num_hidden_layers", 48), Map.entry("patch_size", 14), Map.entry("projection_dim", 1280));

    @Test
    void clipVitBigG14() {
        ClipConfig c = ClipConfig.vision(new ModelConfig("config.json", BIG_G));
        assertEquals(1664, c.hiddenSize());
        assertEquals(48, c.layers());
        assertEquals(16, c.heads());
        assertEquals(104, c.hiddenSize() / c.heads());
        assertEquals(8192, c.intermediateSize());
        assertEquals(ClipActivation.GELU, c.activation());
        assertEquals(224, c.imageSize());
        assertEquals(14, c.patchSize());
        assertEquals(257, c.maxPositions(), "16 x 16 patches + the class token");

        Map<String, long[]> shapes = ClipVisionModel.weightShapes(c);
        assertArrayEquals(new long[] {1664, 3, 14, 14}, shapes.get("vision_model.embeddings.patch_embedding.weight"));
        assertArrayEquals(new long[] {257, 1664}, shapes.get("vision_model.embeddings.position_embedding.weight"));
        assertArrayEquals(new long[] {8192, 1664}, shapes.get("vision_model.encoder.layers.47.mlp.fc1.weight"));
        assertArrayEquals(new long[] {1280, 1664}, shapes.get("visual_projection.weight"));
        assertEquals(5 + 48 * 16 + 3, shapes.size());
        long parameters = shapes.values().stream()
                .mapToLong(s -> Arrays.stream(s).reduce(1, (a, b) -> a * b))
                .sum();
        assertEquals(1_844_907_264L, parameters, "OpenCLIP reports 1844.9M parameters for ViT-bigG-14's image tower");
    }

    @Test
    void aFullClipModelConfigurationIsReadFromItsVisionPart() {
        Map<String, Object> full = Map.of("model_type", "clip", "projection_dim", 1280,
                "text_config", Map.of("hidden_size", 1280), "vision_config", BIG_G);
        ClipConfig c = ClipConfig.vision(new ModelConfig("config.json", full));
        assertEquals(ClipConfig.vision(new ModelConfig("config.json", BIG_G)), c);
    }

    @Test
    void absentKeysTakeTransformersDefaults() {
        ClipConfig c = ClipConfig.vision(new ModelConfig("config.json", Map.of()));
        assertEquals(768, c.hiddenSize());
        assertEquals(12, c.layers());
        assertEquals(ClipActivation.QUICK_GELU, c.activation());
        assertEquals(50, c.maxPositions(), "224 / 32 = 7, 49 patches + 1");
        assertEquals(3, c.numChannels());
    }

    @Test
    void tinyGoldenShape() {
        Map<String, Object> tiny = new HashMap<>(BIG_G);
        tiny.putAll(Map.of("hidden_size", 32, "image_size", 32, "patch_size", 4, "num_hidden_layers", 3,
                "num_attention_heads", 4, "intermediate_size", 64));
        assertEquals(65, ClipConfig.vision(new ModelConfig("config.json", tiny)).maxPositions());
    }

    @Test
    void errorsNameTheFileAndKey() {
        Map<String, Object> bad = new HashMap<>(BIG_G);
        bad.put("num_attention_heads", 15);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ClipConfig.vision(new ModelConfig("image_encoder/config.json", bad)));
        assertTrue(e.getMessage().contains("image_encoder/config.json") && e.getMessage().contains("num_attention_heads"),
                e.getMessage());
        bad.put("num_attention_heads", 16);
        bad.put("patch_size", 448);
        e = assertThrows(IllegalArgumentException.class,
                () -> ClipConfig.vision(new ModelConfig("image_encoder/config.json", bad)));
        assertTrue(e.getMessage().contains("patch_size"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> ClipConfig.vision(new ModelConfig("config.json", Map.of("model_type", "clip"))));
        assertTrue(e.getMessage().contains("vision_config"), e.getMessage());
    }

    @Test
    void absurdSizesAreRefusedByKey() {
        Map<String, Object> noHeads = new HashMap<>(BIG_G);
        noHeads.put("num_attention_heads", 0);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ClipConfig.vision(new ModelConfig("config.json",
                noHeads))).getMessage().contains("'num_attention_heads' must be an integer in 1..1024, got 0"));
        Map<String, Object> text = new HashMap<>(Map.of("hidden_size", 64, "intermediate_size", 128,
                "num_hidden_layers", 1_000_000, "num_attention_heads", 2, "vocab_size", 100));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ClipConfig.text(new ModelConfig("config.json",
                text))).getMessage().contains("'num_hidden_layers' must be an integer in 2..100, got 1000000"));
        text.put("num_hidden_layers", 2);
        text.put("num_attention_heads", 0);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ClipConfig.text(new ModelConfig("config.json",
                text))).getMessage().contains("'num_attention_heads' must be an integer in 1..1024, got 0"));
    }
}

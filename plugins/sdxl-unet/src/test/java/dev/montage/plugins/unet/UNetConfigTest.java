package dev.montage.plugins.unet;

import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.ParameterizedTest;
import java.time.Duration;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.AttentionLayerSpec;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Configuration parsing on the real SDXL base configuration and on configurations this UNet cannot run. */
class UNetConfigTest {
    /** {@code stabilityai/stable-diffusion-xl-base-1.0/unet/config.json}. */
    static final String SDXL_BASE = """
            {"_class_name": "UNet2DConditionModel", "act_fn": "silu", "addition_embed_type": "text_time",
             "addition_embed_type_num_heads": 64, "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20],
             "block_out_channels": [320, 640, 1280], "center_input_sample": false, "class_embed_type": null,
             "class_embeddings_concat": false, "conv_in_kernel": 3, "conv_out_kernel": 3, "cross_attention_dim": 2048,
             "cross_attention_norm": null,
             "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
             "downsample_padding": 1, "dual_cross_attention": false, "encoder_hid_dim": null,
             "encoder_hid_dim_type": null, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4,
             "layers_per_block": 2, "mid_block_only_cross_attention": null, "mid_block_scale_factor": 1,
             "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05, "norm_num_groups": 32,
             "num_attention_heads": null, "num_class_embeds": null, "only_cross_attention": false, "out_channels": 4,
             "projection_class_embeddings_input_dim": 2816, "resnet_out_scale_factor": 1.0,
             "resnet_skip_time_act": false, "resnet_time_scale_shift": "default", "sample_size": 128,
             "time_cond_proj_dim": null, "time_embedding_act_fn": null, "time_embedding_dim": null,
             "time_embedding_type": "positional", "timestep_post_act": null, "transformer_layers_per_block": [1, 2, 10],
             "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "upcast_attention": null,
             "use_linear_projection": true}
            """;

    @SuppressWarnings("unchecked")
    static ModelConfig config(String json, Map<String, Object> overrides) {
        try {
            Map<String, Object> values = new LinkedHashMap<>(new ObjectMapper().readValue(json, Map.class));
            values.putAll(overrides);
            return new ModelConfig("unet/config.json", values);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void sdxlBaseHas140AttentionLayersOf64WideHeadsAnd2point6BillionWeights() {
        UNetConfig c = UNetConfig.from(config(SDXL_BASE, Map.of()));
        List<AttentionLayerSpec> layers = SdxlUNet.attentionLayers(c);
        assertEquals(140, layers.size());
        assertEquals(70, layers.stream().filter(AttentionLayerSpec::isCrossAttention).count());
        assertTrue(layers.stream().allMatch(l -> l.channels() / l.heads() == 64));
        assertTrue(layers.stream().filter(AttentionLayerSpec::isCrossAttention)
                .allMatch(l -> l.contextChannels() == 2048));
        assertEquals("down_blocks.1.attentions.0.transformer_blocks.0.attn1", layers.get(0).name());
        assertEquals("up_blocks.0.attentions.0.transformer_blocks.0.attn1", layers.get(48).name());
        assertEquals("mid_block.attentions.0.transformer_blocks.9.attn2", layers.get(139).name());
        assertEquals(List.of(List.of(10, 10, 10), List.of(2, 2, 2), List.of(1, 1, 1)), c.upTransformerLayers());
        assertEquals(10, c.midTransformerLayers());
        assertEquals(1280, c.timeEmbedDim());

        Map<String, long[]> shapes = SdxlUNet.weightShapes(c);
        long parameters = shapes.values().stream().mapToLong(s -> Arrays.stream(s).reduce(1, (a, b) -> a * b)).sum();
        System.out.printf("SDXL base UNet: %d tensors, %d parameters%n", shapes.size(), parameters);
        assertEquals(2_567_463_684L, parameters);
        assertEquals(List.of(1280L, 2816L), Arrays.stream(shapes.get("add_embedding.linear_1.weight")).boxed().toList());
    }

    /** LCM-SDXL's UNet is SDXL's with a 256-wide guidance embedding projected onto the timestep sinusoids. */
    @Test
    void aGuidanceDistilledUNetHasItsGuidanceProjection() {
        UNetConfig lcm = UNetConfig.from(config(SDXL_BASE, Map.of("time_cond_proj_dim", 256)));
        assertEquals(256, lcm.timeCondProjDim());
        Map<String, long[]> shapes = SdxlUNet.weightShapes(lcm);
        assertEquals(List.of(320L, 256L), Arrays.stream(shapes.get("time_embedding.cond_proj.weight")).boxed()
                .toList());
        assertEquals(SdxlUNet.weightShapes(UNetConfig.from(config(SDXL_BASE, Map.of()))).size() + 1, shapes.size());
        IllegalArgumentException narrow = assertThrows(IllegalArgumentException.class,
                () -> UNetConfig.from(config(SDXL_BASE, Map.of("time_cond_proj_dim", 2))));
        assertTrue(narrow.getMessage().contains("'time_cond_proj_dim'"), narrow.getMessage());
        IllegalArgumentException controlNet = assertThrows(IllegalArgumentException.class,
                () -> UNetConfig.encoderFrom(config(SDXL_BASE, Map.of("time_cond_proj_dim", 256))));
        assertEquals("unet/config.json: 'time_cond_proj_dim' must be null for an SDXL UNet, got 256",
                controlNet.getMessage());
    }

    @Test
    void perLayerTransformerCountsNeedTheReverseList() {
        Map<String, Object> asymmetric = Map.of("transformer_layers_per_block", List.of(1, List.of(2, 3),
                List.of(10, 4)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UNetConfig.from(config(SDXL_BASE, asymmetric)));
        assertTrue(e.getMessage().contains("reverse_transformer_layers_per_block"), e.getMessage());

        Map<String, Object> withReverse = new LinkedHashMap<>(asymmetric);
        withReverse.put("reverse_transformer_layers_per_block", List.of(List.of(4, 4, 10), List.of(2, 2, 3), 1));
        UNetConfig c = UNetConfig.from(config(SDXL_BASE, withReverse));
        assertEquals(List.of(List.of(1, 1), List.of(2, 3), List.of(10, 4)), c.downTransformerLayers());
        assertEquals(List.of(List.of(4, 4, 10), List.of(2, 2, 3), List.of(1, 1, 1)), c.upTransformerLayers());
        assertEquals(10, c.midTransformerLayers());
    }

    @Test
    void unsupportedVariantsAreNamed() {
        assertRejected(Map.of("resnet_time_scale_shift", "scale_shift"), "'resnet_time_scale_shift' must be 'default'");
        assertRejected(Map.of("class_embed_type", "timestep"), "'class_embed_type' must be null");
        assertRejected(Map.of("addition_embed_type", "text"), "'addition_embed_type' must be 'text_time' or null");
        assertRejected(Map.of("only_cross_attention", List.of(false, true, false)), "'only_cross_attention'");
        assertRejected(Map.of("down_block_types", List.of("DownBlock2D", "CrossAttnDownBlock2D")),
                "need 3 entries like 'block_out_channels'");
        assertRejected(Map.of("up_block_types", List.of("UpBlock2D", "SimpleCrossAttnUpBlock2D", "UpBlock2D")),
                "'up_block_types' entry 'SimpleCrossAttnUpBlock2D' is not supported");
        assertRejected(Map.of("attention_head_dim", List.of(5, 10, 30)), "not divisible by attention_head_dim[2]");
        assertRejected(Map.of("attention_head_dim", List.of(5, 10)), "'attention_head_dim' must have 3 entries");
        assertRejected(Map.of("transformer_layers_per_block", List.of(1, 2, 0)), "must be an integer in 1..100, got 0");
    }

    private static void assertRejected(Map<String, Object> override, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UNetConfig.from(config(SDXL_BASE, override)));
        assertTrue(e.getMessage().startsWith("unet/config.json") && e.getMessage().contains(message), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource({"layers_per_block, 1000000, 1..100", "transformer_layers_per_block, 1000000, 1..100",
        "attention_head_dim, 0, 1..65536", "norm_num_groups, 0, 1..65536", "block_out_channels, 0, 1..65536",
        "cross_attention_dim, -1, 1..65536", "time_embedding_dim, 1000000000, 1..65536"})
    void absurdSizesAreRefusedByKeyBeforeTheNetworkIsLaidOut(String key, int value, String range) {
        Object entry = key.equals("block_out_channels") ? List.of(value, 640, 1280) : value;
        IllegalArgumentException e = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> assertThrows(
                IllegalArgumentException.class, () -> SdxlUNet.weightShapes(UNetConfig.from(config(SDXL_BASE,
                        Map.of(key, entry))))));
        assertTrue(e.getMessage().startsWith("unet/config.json: '" + key + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(range + ", got " + value), e.getMessage());
    }

    @Test
    void aControlNetRefusesMoreConditioningStagesThanAnImageHas() {
        Map<String, Object> values = new LinkedHashMap<>(config(SDXL_BASE, Map.of()).asMap());
        values.remove("up_block_types");
        values.put("conditioning_embedding_out_channels", Collections.nCopies(40, 16));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ControlNetConfig.from(new ModelConfig("controlnet/config.json", values)));
        assertTrue(e.getMessage().contains("'conditioning_embedding_out_channels' must hold 1..8 entries, got 40"),
                e.getMessage());
    }
}

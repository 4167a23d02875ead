package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.testing.Fuzzer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mutated model configuration files: each reads as an object, or is refused naming the file, quickly. */
class JsonFilesFuzzTest {
    private static final String CONFIG = """
            {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.19.0", "act_fn": "silu",
             "attention_head_dim": [5, 10, 20], "block_out_channels": [320, 640, 1280], "class_embed_type": null,
             "cross_attention_dim": 2048, "norm_eps": 1e-05, "flip_sin_to_cos": true, "freq_shift": 0,
             "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
             "transformer_layers_per_block": [1, 2, 10], "name": "caf\\u00e9 \\"unet\\""}
            """;

    @TempDir
    Path dir;

    @Test
    void modelConfigurations() {
        Path file = dir.resolve("config.json");
        int ran = new Fuzzer("config-json", 0xC0F1, List.of(CONFIG.getBytes(StandardCharsets.UTF_8))).run(3000,
                Duration.ofSeconds(6), bytes -> JsonFiles.readObject(Files.write(file, bytes)),
                IllegalArgumentException.class);
        assertTrue(ran > 100, "ran " + ran);
    }
}

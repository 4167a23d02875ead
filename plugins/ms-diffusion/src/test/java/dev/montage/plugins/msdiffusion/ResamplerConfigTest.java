package dev.montage.plugins.msdiffusion;

import java.time.Duration;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.host.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading the resampler's keyword arguments (no engine, no golden files). */
class ResamplerConfigTest {
    private static final String TINY = """
            {"dim": 32, "depth": 2, "dim_head": 16, "heads": 2, "num_queries": 4, "embedding_dim": 32,
             "output_dim": 64, "ff_mult": 4, "latent_init_mode": "grounding", "phrase_embeddings_dim": 32,
             "fourier_freqs": 8}""";

    @TempDir
    Path temp;

    @Test
    void theBuiltInConfigurationIsThePublishedCheckpoints() {
        ResamplerConfig c = ResamplerConfig.MS_DIFFUSION_SDXL;
        assertEquals(1280, c.dim());
        assertEquals(4, c.depth());
        assertEquals(64, c.dimHead());
        assertEquals(20, c.heads());
        assertEquals(16, c.numQueries());
        assertEquals(1664, c.embeddingDim());
        assertEquals(2048, c.outputDim());
        assertEquals(5120, c.ffInnerDim());
        assertEquals(768, c.phraseEmbeddingsDim());
        assertEquals(8, c.fourierFreqs());
        assertEquals(1280, c.innerDim());
        assertEquals(768 + 64, c.groundingEmbeddingDim());
        // grounding_latents, 7 linear or norm layers with weight and bias, 11 tensors per layer
        assertEquals(1 + 2 * 7 + 4 * 11, GroundingResampler.expectedShapes(c).size());
    }

    @Test
    void readsResamplerKeywordArgumentsAndAdapterConfigurations() throws IOException {
        Path plain = Files.writeString(temp.resolve("resampler_config.json"), TINY);
        Path adapter = Files.writeString(temp.resolve("ms_adapter_config.json"),
                "{\"resampler\": " + TINY + ", \"ms_adapter\": {\"num_dummy_tokens\": 4}}");
        for (Path file : new Path[] {plain, adapter}) {
            ResamplerConfig c = ResamplerConfig.read(file);
            assertEquals(new ResamplerConfig(c.source(), 32, 2, 16, 2, 4, 32, 64, 128, 32, 8), c);
            assertTrue(c.source().startsWith(file.toString()), c.source());
        }
    }

    @Test
    void aFractionalFeedForwardMultiplierIsTruncatedAsInPython() {
        Map<String, Object> values = tinyValues();
        values.put("ff_mult", 2.5);
        values.put("dim", 33);
        assertEquals(82, ResamplerConfig.from(new ModelConfig("c.json", values)).ffInnerDim());
    }

    @Test
    void variantsThisImplementationLacksAreRefusedByKey() {
        assertRefused("latent_init_mode", "random", "'latent_init_mode' is 'random', only 'grounding'");
        assertRefused("apply_pos_emb", true, "'apply_pos_emb' true is not supported");
        assertRefused("num_latents_mean_pooled", 2, "'num_latents_mean_pooled' must be 0, got 2");
        Map<String, Object> noMode = tinyValues();
        noMode.remove("latent_init_mode");
        // the Python default is "random"
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> ResamplerConfig.from(new ModelConfig("c.json", noMode))).getMessage()
                .contains("'latent_init_mode' is 'random'"));
    }

    @Test
    void missingOrBadValuesNameTheFileAndKey() throws IOException {
        Map<String, Object> noHeads = tinyValues();
        noHeads.remove("heads");
        assertEquals("c.json: required key 'heads' is missing", assertThrows(IllegalArgumentException.class,
                () -> ResamplerConfig.from(new ModelConfig("c.json", noHeads))).getMessage());
        assertRefused("depth", 0, "c.json: 'depth' must be an integer in 1..100, got 0");

        Path array = Files.writeString(temp.resolve("array.json"), "[1, 2]");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ResamplerConfig.read(array)).getMessage()
                .startsWith(array + ": expected a JSON object"));
        Path utf32 = Files.write(temp.resolve("utf32.json"), new byte[] {0, 0, 0, '{', 'd', 'i', 'm', '"'});
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ResamplerConfig.read(utf32)).getMessage()
                .startsWith(utf32 + ": not valid JSON"));
        Path broken = Files.writeString(temp.resolve("broken.json"), "{\"dim\": ");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ResamplerConfig.read(broken)).getMessage()
                .startsWith(broken + ": not valid JSON"));
    }

    private static void assertRefused(String key, Object value, String expected) {
        Map<String, Object> values = tinyValues();
        values.put(key, value);
        String message = assertThrows(IllegalArgumentException.class,
                () -> ResamplerConfig.from(new ModelConfig("c.json", values))).getMessage();
        assertTrue(message.contains(expected), message);
    }

    private static Map<String, Object> tinyValues() {
        Map<String, Object> values = new HashMap<>();
        values.putAll(Map.of("dim", 32, "depth", 2, "dim_head", 16, "heads", 2, "num_queries", 4,
                "embedding_dim", 32, "output_dim", 64, "ff_mult", 4, "latent_init_mode", "grounding",
                "phrase_embeddings_dim", 32));
        values.put("fourier_freqs", 8);
        return values;
    }

    @Test
    void absurdSizesAreRefusedByKeyBeforeTheResamplerIsBuilt() {
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            assertRefused("depth", 1_000_000, "c.json: 'depth' must be an integer in 1..100, got 1000000");
            assertRefused("fourier_freqs", 1_000_000_000, "'fourier_freqs' must be an integer in 1..1024, got 1000000000");
            assertRefused("heads", 0, "'heads' must be an integer in 1..1024, got 0");
            assertRefused("ff_mult", 1e9, "'int(dim * ff_mult)' must be an integer in 1..262144, got 2147483647");
        });
    }
}

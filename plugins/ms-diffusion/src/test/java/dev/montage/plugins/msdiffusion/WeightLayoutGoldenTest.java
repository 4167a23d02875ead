package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.host.ModelConfig;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.weights.TensorSource;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The declared {@code ms_adapter} layout is exactly the golden checkpoint: the resampler's side from its
 * configuration, the attention side from the tiny UNet's attention layers, and nothing else together.
 */
class WeightLayoutGoldenTest {

    @Test
    @SuppressWarnings("unchecked")
    void bothSidesMakeTheAdapterCheckpoint() throws Exception {
        Path configFile = Golden.model().resolve("resampler_config.json");
        ModelConfig config = new ModelConfig(configFile.toString(),
                new ObjectMapper().readValue(configFile.toFile(), Map.class));
        Map<String, long[]> resampler = new MsDiffusionResamplerFactory()
                .weightShapes(Map.of(MsDiffusionResamplerFactory.CONFIG_KEY, config)).get("ms_adapter");
        Map<String, long[]> attention = new MultiSubjectAttentionFactory().weightShapes(GoldenModel.unetLayers())
                .get(MultiSubjectAttentionFactory.CHECKPOINT_KEY);
        try (TensorSource source = TensorSource.open(Golden.model().resolve("ms_adapter.bin"))) {
            assertSameLayout(source, resampler, n -> !n.startsWith("ms_adapter."));
            assertSameLayout(source, attention, n -> n.startsWith("ms_adapter."));
            Map<String, long[]> both = new HashMap<>(resampler);
            both.putAll(attention);
            assertEquals(new TreeSet<>(source.names()), new TreeSet<>(both.keySet()));
        }
    }

    private static void assertSameLayout(TensorSource source, Map<String, long[]> declared,
            Predicate<String> side) {
        TreeSet<String> actual = source.names().stream().filter(side).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(actual, new TreeSet<>(declared.keySet()));
        declared.forEach((name, shape) -> assertArrayEquals(source.info(name).shape(), shape, name));
    }
}

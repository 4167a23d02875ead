package dev.montage.plugins.resampler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.host.ModelConfig;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.weights.TensorSource;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The declared {@code ms_adapter} layout is exactly the golden checkpoint's resampler side. */
class WeightLayoutGoldenTest {

    @Test
    @SuppressWarnings("unchecked")
    void resamplerSideOfTheAdapterCheckpoint() throws Exception {
        Path configFile = Golden.model().resolve("resampler_config.json");
        ModelConfig config = new ModelConfig(configFile.toString(),
                new ObjectMapper().readValue(configFile.toFile(), Map.class));
        Map<String, long[]> declared = new MsDiffusionResamplerFactory()
                .weightShapes(Map.of(MsDiffusionResamplerFactory.CONFIG_KEY, config)).get("ms_adapter");
        try (TensorSource source = TensorSource.open(Golden.model().resolve("ms_adapter.bin"))) {
            TreeSet<String> actual = source.names().stream().filter(n -> !n.startsWith("ms_adapter."))
                    .collect(Collectors.toCollection(TreeSet::new));
            assertEquals(actual, new TreeSet<>(declared.keySet()));
            declared.forEach((name, shape) -> assertArrayEquals(source.info(name).shape(), shape, name));
        }
    }
}

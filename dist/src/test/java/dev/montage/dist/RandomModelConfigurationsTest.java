package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.registry.ComponentRegistry;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The full-size random model's configuration files: each component's published one, the rest the distribution's. */
class RandomModelConfigurationsTest {
    private final ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());

    @Test
    void everyConfigurationFileOfSdxlIsFound() {
        for (String file : RandomModel.CONFIG_FILES) {
            Map<String, Object> values = RandomModel.values("sdxl", file, registry);
            assertTrue(!values.isEmpty(), file);
        }
        assertEquals(2048, ((Number) RandomModel.values("sdxl", "unet/config.json", registry)
                .get("cross_attention_dim")).intValue());
        assertEquals("EulerDiscreteScheduler", RandomModel.values("sdxl", "scheduler/scheduler_config.json", registry)
                .get("_class_name"));
    }
}

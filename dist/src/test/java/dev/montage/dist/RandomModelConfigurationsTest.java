package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.ConfigurationException;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.TensorDType;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The random models' configuration files: the full-size one takes each component's published configuration. */
class RandomModelConfigurationsTest {
    private final RandomModel models = RandomModel.of(ComponentRegistry.fromClasspath(getClass().getClassLoader()),
            Optional.empty());

    @Test
    void everyConfigurationFileOfSdxlIsFound() {
        Map<String, Map<String, Object>> sdxl = models.configurationValues("sdxl");
        assertEquals(models.configurationValues("tiny").keySet(), sdxl.keySet());
        sdxl.forEach((file, values) -> assertFalse(values.isEmpty(), file));
        assertEquals(2048, ((Number) sdxl.get("unet/config.json").get("cross_attention_dim")).intValue());
        assertEquals("EulerDiscreteScheduler", sdxl.get("scheduler/scheduler_config.json").get("_class_name"));
    }

    /** The full-size model is stored as published weights are, so generate and bench share one cached copy. */
    @Test
    void theFullSizeModelIsStoredInFloat16AndTheTinyOneInFloat32() {
        assertEquals(TensorDType.F16, models.storage("sdxl"));
        assertEquals(TensorDType.F32, models.storage("tiny"));
        assertThrows(ConfigurationException.class, () -> models.storage("tiyn"));
    }

    @Test
    void anUnknownRandomModelIsNamedWithTheKnownOnes() {
        assertEquals(List.of("tiny", "sdxl"), models.names());
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> models.configurationValues("tiyn"));
        assertTrue(e.getMessage().contains("'tiyn'") && e.getMessage().contains("did you mean tiny?"),
                e.getMessage());
    }
}

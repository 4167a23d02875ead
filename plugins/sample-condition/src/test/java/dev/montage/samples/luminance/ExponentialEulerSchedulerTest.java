package dev.montage.samples.luminance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.testing.TestEngine;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ExponentialEulerSchedulerTest {
    /** SDXL base's training schedule. */
    private static ModelConfig sdxl() {
        Map<String, Object> values = new HashMap<>(Map.of("beta_start", 0.00085, "beta_end", 0.012,
                "beta_schedule", "scaled_linear", "num_train_timesteps", 1000, "prediction_type", "epsilon"));
        return new ModelConfig("scheduler/scheduler_config.json", values);
    }

    private static Scheduler scheduler() {
        return new ExponentialEulerScheduler(ExponentialEulerSchedulerFactory.betas(sdxl()));
    }

    @Test
    void scheduleRunsFromTheLargestToTheSmallestTrainingSigma() {
        Scheduler.Run run = scheduler().start(5, TestEngine.manager());
        float[] t = run.timesteps();
        assertEquals(5, t.length);
        assertEquals(999f, t[0], 1e-3f);
        assertEquals(0f, t[4], 1e-3f);
        for (int i = 1; i < t.length; i++) {
            assertTrue(t[i] < t[i - 1], "timesteps decrease: " + java.util.Arrays.toString(t));
        }
        // SDXL's largest training sigma is 14.6146; the initial noise is scaled by sqrt(sigma^2 + 1)
        assertEquals(Math.sqrt(14.6146 * 14.6146 + 1), run.initNoiseSigma(), 1e-3);
    }

    @Test
    void eulerStepWithConstantNoiseMovesBySigmaDifference() {
        NDManager manager = TestEngine.manager();
        try (NDManager scope = manager.newSubManager()) {
            Scheduler.Run run = scheduler().start(2, scope);
            float sigma0 = (float) Math.sqrt(run.initNoiseSigma() * run.initNoiseSigma() - 1.0);
            NDArray latents = scope.full(new Shape(1, 4, 2, 2), 3f);
            NDArray eps = scope.full(new Shape(1, 4, 2, 2), 0.5f);
            float sigmaMin = 0.029168f;  // SDXL's smallest training sigma, the last of a 2-step schedule
            int before = scope.getManagedArrays().size();
            NDArray next = run.step(eps, 0, latents);
            assertEquals(before + 1, scope.getManagedArrays().size(), "only the result is kept");
            float expected = 3f + 0.5f * (sigmaMin - sigma0);
            assertArrayEquals(new float[] {expected}, new float[] {next.toFloatArray()[0]}, 1e-4f);
            NDArray scaled = run.scaleModelInput(latents, 1);
            assertEquals(3f / (float) Math.sqrt(sigmaMin * sigmaMin + 1), scaled.toFloatArray()[0], 1e-5f);
            // a run from a picture: the picture's latents noised to the step's σ
            NDArray noised = run.addNoise(latents, eps, 1);
            assertEquals(scope, noised.getManager());
            assertEquals(3f + 0.5f * sigmaMin, noised.toFloatArray()[0], 1e-5f);
        }
    }

    @Test
    void unsupportedSettingsAreNamed() {
        ModelConfig cosine = new ModelConfig("scheduler/scheduler_config.json",
                new HashMap<>(Map.of("beta_start", 0.1, "beta_end", 0.2, "beta_schedule", "squaredcos_cap_v2",
                        "num_train_timesteps", 1000)));
        assertEquals("scheduler/scheduler_config.json: beta_schedule 'squaredcos_cap_v2' is not supported by "
                + "sample-euler-exponential, expected linear or scaled_linear",
                assertThrows(IllegalArgumentException.class, () -> ExponentialEulerSchedulerFactory.betas(cosine))
                        .getMessage());
        assertThrows(IllegalArgumentException.class, () -> scheduler().start(0, TestEngine.manager()));
    }
}

package dev.montage.plugins.schedulers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The schedule and every scheduler step of the official pipeline's cases: Euler (4 steps) in
 * {@code single_subject_euler} and {@code plain_sdxl_euler}, Euler with trailing spacing (4 steps, no guidance) in
 * {@code fewstep_euler_trailing}, DDIM (3 steps) in {@code two_subjects_ddim}; each scheduler is built from the
 * model's SDXL Euler configuration with the case's own settings over it, as diffusers' {@code from_config}.
 */
class SchedulerGoldenTest {
    /** The golden README's tolerance for latents (observed fp32-vs-fp64 drift up to 2.5e-5). */
    private static final double LATENTS_ATOL = 1e-3;

    /** The tiny model's {@code scheduler/scheduler_config.json} (SDXL base's Euler configuration). */
    static SchedulerSettings modelSettings() {
        Path folder = Golden.model().resolve("scheduler");
        return SchedulerSettings.of(TestEngine.folder(folder).json("scheduler_config.json"));
    }

    @Test
    void singleSubjectEuler() {
        checkEuler("single_subject_euler");
    }

    @Test
    void plainSdxlEuler() {
        checkEuler("plain_sdxl_euler");
    }

    @Test
    void fewStepEulerTrailing() {
        checkEuler("fewstep_euler_trailing");
    }

    @Test
    void twoSubjectsDdim() {
        checkCase("two_subjects_ddim", new DdimScheduler(modelSettings()));
    }

    private static void checkEuler(String name) {
        Scheduler.Run run = checkCase(name, new EulerDiscreteScheduler(modelSettings()));
        try (GoldenTensors golden = GoldenTensors.open(name)) {
            float[] sigmas = ((EulerDiscreteScheduler.EulerRun) run).sigmas();
            double error = golden.assertClose("scheduler.sigmas", sigmas, 1e-6);
            assertEquals(0, error, "sigmas are computed as torch computes them, so they match bit for bit");
        }
    }

    /**
     * Timesteps (exact), initial noise σ (exact), the scaled initial latents, and per step the model input
     * (both CFG halves where the case guides) and the step, once from the golden latents of that step and once
     * chained from the scheduler's own previous output.
     */
    private static Scheduler.Run checkCase(String name, Scheduler base) {
        ModelConfig json = TestEngine.folder(Golden.caseDir(name)).json(name + ".json");
        Scheduler scheduler = base.withOverrides(json.getObject("scheduler_from_config_overrides")
                .map(ModelConfig::asMap).orElse(Map.of()));
        boolean cfg = json.getDouble("guidance_scale") > 1;
        int steps = json.getInt("steps");
        Scheduler.Run run = scheduler.start(steps, TestEngine.manager());
        try (GoldenTensors golden = GoldenTensors.open(name); NDManager m = TestEngine.manager().newSubManager()) {
            assertArrayEquals(golden.floats("scheduler.timesteps"), run.timesteps(), name + " timesteps");
            assertEquals((float) json.getDouble("init_noise_sigma"), run.initNoiseSigma(), name + " init_noise_sigma");
            NDArray latents = tensor(golden, "init_latents", m).mul(run.initNoiseSigma());
            golden.assertClose("latents_scaled_init", latents, 1e-6);
            NDArray chained = latents;
            for (int i = 0; i < steps; i++) {
                String step = "step" + i;
                assertEquals(golden.floats(step + ".timestep")[0], run.timesteps()[i], step + ".timestep");
                NDArray scaled = run.scaleModelInput(latents, i);
                golden.assertClose(step + ".latent_model_input", cfg ? scaled.concat(scaled) : scaled,
                        LATENTS_ATOL);
                NDArray guided = tensor(golden, step + ".noise_pred_guided", m);
                golden.assertClose(step + ".latents_after", run.step(guided, i, latents), LATENTS_ATOL);
                chained = run.step(guided, i, chained);
                double chainedError = GoldenTensors.maxAbsDiff(golden.floats(step + ".latents_after"),
                        chained.toFloatArray());
                System.out.printf("golden %s/%s.latents_after, chained: max-abs error %.3g%n", name, step,
                        chainedError);
                assertTrue(chainedError <= LATENTS_ATOL, name + " chained " + step + ": " + chainedError);
                latents = tensor(golden, step + ".latents_after", m);
            }
        }
        return run;
    }

    private static NDArray tensor(GoldenTensors golden, String name, NDManager manager) {
        return manager.create(golden.floats(name), new Shape(golden.shape(name)));
    }
}

package dev.montage.plugins.schedulers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.testing.TestEngine;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Settings from the file and overrides: defaults, coercion, and errors that name the key and its source. */
class SchedulerSettingsTest {

    private static SchedulerSettings file(String key, Object value) {
        Map<String, Object> values = SdxlSchedulerConfig.values();
        values.put(key, value);
        return SchedulerSettings.of(new ModelConfig(SdxlSchedulerConfig.SOURCE, values));
    }

    private static IllegalArgumentException refused(Function<SchedulerSettings, Scheduler> build,
            SchedulerSettings settings, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> build.apply(settings));
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "'" + f + "' not in: " + e.getMessage());
        }
        return e;
    }

    @Test
    void badFileValueNamesFileKeyAndValue() {
        refused(EulerDiscreteScheduler::new, file("timestep_spacing", "sideways"), SdxlSchedulerConfig.SOURCE,
                "'timestep_spacing'", "linspace, leading, trailing", "'sideways'");
        refused(DdimScheduler::new, file("steps_offset", 1.5), SdxlSchedulerConfig.SOURCE, "'steps_offset'",
                "an integer", "1.5");
        refused(DpmSolverMultistepScheduler::new, file("lower_order_final", "maybe"), "'lower_order_final'",
                "true or false");
        refused(EulerDiscreteScheduler::new, file("beta_schedule", "cosine"), "'beta_schedule'",
                "linear, scaled_linear, squaredcos_cap_v2");
        refused(EulerDiscreteScheduler::new, file("prediction_type", "sample"), "'prediction_type'");
        refused(EulerDiscreteScheduler::new, file("trained_betas", List.of(0.1, 0.2)), "'trained_betas'",
                "1000");
    }

    @Test
    void badOverrideNamesTheOverride() {
        SchedulerSettings s = SdxlSchedulerConfig.settings(Map.of("timestep_spacing", 3));
        refused(EulerDiscreteScheduler::new, s, "test override", "'timestep_spacing'", "got 3");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new EulerDiscreteScheduler(SdxlSchedulerConfig.settings()).withOverrides(Map.of("steps_offset",
                        "one")));
        assertTrue(e.getMessage().startsWith("request's scheduler options: 'steps_offset' must be an integer"),
                e.getMessage());
    }

    @Test
    void unknownOverrideKeyIsRefusedButUnknownFileKeysAreIgnored() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SdxlSchedulerConfig.settings(Map.of("use_karas_sigmas", true)));
        assertTrue(e.getMessage().contains("unknown scheduler setting 'use_karas_sigmas'"), e.getMessage());
        // skip_prk_steps, _class_name: PNDM and bookkeeping keys of the SDXL file
        new EulerDiscreteScheduler(file("skip_prk_steps", true));
    }

    @Test
    void unsupportedOptionsAreRefusedWithTheReason() {
        refused(DdimScheduler::new, file("thresholding", true), "'thresholding' = true", "not supported");
        refused(EulerDiscreteScheduler::new, file("beta_schedule", "squaredcos_cap_v2"), "'beta_schedule'",
                "not supported");
        refused(EulerDiscreteScheduler::new, file("interpolation_type", "log_linear"), "'interpolation_type'",
                "not supported");
        // diffusers ignores variance types other than the learned ones
        new DpmSolverMultistepScheduler(file("variance_type", "fixed_small"));
        refused(DdimScheduler::new, file("rescale_betas_zero_snr", true), "'rescale_betas_zero_snr'");
        refused(DpmSolverMultistepScheduler::new, file("solver_order", 3).with("test", Map.of("algorithm_type",
                "sde-dpmsolver++")), "'solver_order' = 3", "not supported", "the third-order solver is the ODE's");
        refused(DpmSolverMultistepScheduler::new, file("solver_order", 4), "'solver_order' must be an integer in 1..3");
        refused(DpmSolverMultistepScheduler::new, file("algorithm_type", "sde-dpmsolver"), "'algorithm_type'");
        new DpmSolverMultistepScheduler(file("solver_type", "heun"));
        refused(DpmSolverMultistepScheduler::new, file("use_lu_lambdas", true), "'use_lu_lambdas'");
        refused(DpmSolverMultistepScheduler::new, file("variance_type", "learned_range"), "'variance_type'");
    }

    @Test
    void stringOverridesAreCoercedAndNullRestoresTheDefault() {
        Map<String, Object> overrides = new HashMap<>();
        overrides.put("steps_offset", "0");
        overrides.put("timestep_spacing", null);
        overrides.put("use_karras_sigmas", "false");
        overrides.put("beta_end", "0.012");
        // Euler's default spacing is linspace
        assertArrayEquals(new float[] {999, 666, 333, 0},
                new EulerDiscreteScheduler(SdxlSchedulerConfig.settings(overrides))
                .start(4, TestEngine.manager()).timesteps());
        assertEquals(Double.NEGATIVE_INFINITY,
                SdxlSchedulerConfig.settings(Map.of("lambda_min_clipped", "-inf")).number("lambda_min_clipped", 0));
    }

    @Test
    void diffusersAliasesAreAccepted() {
        float[] plain = new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings())
                .start(4, TestEngine.manager()).timesteps();
        assertArrayEquals(plain, new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings(
                Map.of("algorithm_type", "deis", "solver_type", "bh2"))).start(4, TestEngine.manager()).timesteps());
    }

    @Test
    void lambdaMinClippedLimitsTheTimesteps() {
        // λ = -log σ̃ < -2.5 where σ̃ > e^2.5, at the highest SDXL timesteps: trailing spacing starts lower
        float[] t = new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings(Map.of("lambda_min_clipped", -2.5,
                "timestep_spacing", "trailing"))).start(4, TestEngine.manager()).timesteps();
        assertTrue(t[0] < 999, "first timestep " + t[0]);
    }

    @Test
    void overridesLeaveTheSharedSchedulerAlone() {
        Scheduler euler = new EulerDiscreteScheduler(SdxlSchedulerConfig.settings());
        assertSame(euler, euler.withOverrides(Map.of()));
        Scheduler trailing = euler.withOverrides(Map.of("timestep_spacing", "trailing"));
        assertArrayEquals(new float[] {751, 501, 251, 1}, euler.start(4, TestEngine.manager()).timesteps());
        assertArrayEquals(new float[] {999, 749, 499, 249}, trailing.start(4, TestEngine.manager()).timesteps());
    }

    @Test
    void aSchedulerWithoutSettingsRefusesOverrides() {
        Scheduler plain = (steps, state) -> {
            throw new UnsupportedOperationException();
        };
        assertSame(plain, plain.withOverrides(Map.of()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> plain.withOverrides(Map.of("timestep_spacing", "trailing")));
        assertTrue(e.getMessage().contains("timestep_spacing"), e.getMessage());
    }
}

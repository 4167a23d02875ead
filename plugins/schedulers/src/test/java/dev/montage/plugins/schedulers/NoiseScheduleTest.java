package dev.montage.plugins.schedulers;

import java.time.Duration;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.host.ModelConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The training schedule, Karras sigmas and the numpy helpers. */
class NoiseScheduleTest {

    @Test
    void karrasSigmasFollowTheFormula() {
        double max = 14.614645004272461;
        double min = 0.029167532920837402;
        for (int steps : new int[] {2, 4, 25}) {
            double[] sigmas = NoiseSchedule.karras(max, min, steps);
            assertEquals(steps, sigmas.length);
            for (int i = 0; i < steps; i++) {
                double ramp = i / (steps - 1.0);
                double expected = Math.pow(Math.pow(max, 1 / 7.0) + ramp * (Math.pow(min, 1 / 7.0)
                        - Math.pow(max, 1 / 7.0)), 7);
                assertEquals(expected, sigmas[i], 1e-12 * expected, "σ_" + i + " of " + steps);
                if (i > 0) {
                    assertTrue(sigmas[i] < sigmas[i - 1], "decreasing");
                }
            }
            assertEquals(max, sigmas[0], 1e-12 * max, "starts at σ_max");
            assertEquals(min, sigmas[steps - 1], 1e-12 * min, "ends at σ_min");
        }
        assertArrayEquals(new double[] {max}, NoiseSchedule.karras(max, min, 1), 1e-12 * max, "a single step: σ_max");
    }

    @Test
    void sdxlScheduleEnds() {
        NoiseSchedule s = NoiseSchedule.of(SdxlSchedulerConfig.settings());
        assertEquals(1000, s.trainSteps());
        assertEquals(1 - 0.00085, s.alphaCumprod(0), 1e-7);
        assertEquals(0.029167532920837402, s.sigma(0), 0, "torch's float32 value");
        assertEquals(14.614645004272461, s.sigma(999), 0, "torch's float32 value");
    }

    @Test
    void torchLinspaceStaysWithinAnUlpOfTheExactValues() {
        float[] values = NoiseSchedule.torchLinspace(Math.sqrt(0.00085), Math.sqrt(0.012), 1000);
        assertEquals((float) Math.sqrt(0.00085), values[0], 0);
        assertEquals((float) Math.sqrt(0.012), values[999], 0);
        double[] exact = NumpyMath.linspace(Math.sqrt(0.00085), Math.sqrt(0.012), 1000);
        for (int i = 0; i < 1000; i++) {
            assertEquals(exact[i], values[i], 2 * Math.ulp(values[i]), "value " + i);
        }
    }

    @Test
    void sigmaToTimestepInvertsTheSchedule() {
        NoiseSchedule s = NoiseSchedule.of(SdxlSchedulerConfig.settings());
        for (int t : new int[] {0, 1, 250, 500, 998, 999}) {
            assertEquals(t, s.sigmaToTimestep(s.sigma(t)), 1e-3, "timestep " + t);
        }
        assertEquals(500.5, s.sigmaToTimestep(Math.sqrt(s.sigma(500) * (double) s.sigma(501))), 1e-3,
                "halfway in log σ");
        assertEquals(0, s.sigmaToTimestep(1e-6), 0, "below the schedule");
        assertEquals(999, s.sigmaToTimestep(100), 0, "above the schedule");
    }

    @Test
    void linearAndTrainedBetas() {
        Map<String, Object> linear = Map.of("beta_schedule", "linear", "beta_start", 0.001, "beta_end", 0.01,
                "num_train_timesteps", 10);
        NoiseSchedule s = NoiseSchedule.of(SchedulerSettings.of(new ModelConfig("test", linear)));
        double product = 1;
        for (int t = 0; t < 10; t++) {
            product *= 1 - (0.001 + 0.001 * t);
            assertEquals(product, s.alphaCumprod(t), 1e-6);
        }
        Map<String, Object> trained = Map.of("trained_betas", List.of(0.1, 0.2, 0.3), "num_train_timesteps", 3);
        NoiseSchedule t = NoiseSchedule.of(SchedulerSettings.of(new ModelConfig("test", trained)));
        assertEquals(0.9f * 0.8f * 0.7f, t.alphaCumprod(2), 1e-7);
    }

    @Test
    void numpyArangeFillsFromTheFirstDifference() {
        // np.arange(1000, 0, -1000 / 3) = [1000, 666.666..., 333.333...]
        double[] a = NumpyMath.arange(1000, 0, -1000.0 / 3);
        assertEquals(3, a.length);
        double delta = (1000 - 1000.0 / 3) - 1000;
        assertEquals(1000 + 2 * delta, a[2], 0);
        assertEquals(62, NumpyMath.arange(1000, 0, -1000.0 / 61).length, "numpy's length for 61 steps");
        assertArrayEquals(new double[] {0, 0.25, 0.5, 0.75, 1}, NumpyMath.linspace(0, 1, 5));
        assertArrayEquals(new double[] {3}, NumpyMath.linspace(3, 7, 1));
        assertEquals(500, NumpyMath.round(499.5), 0, "half to even");
        assertEquals(2, NumpyMath.round(2.5), 0, "half to even");
    }

    @Test
    void numpyInterp() {
        float[] fp = {1, 3, 7};
        assertEquals(1, NumpyMath.interp(-2, fp), 0);
        assertEquals(3, NumpyMath.interp(1, fp), 0);
        assertEquals(2, NumpyMath.interp(0.5, fp), 0);
        assertEquals(6, NumpyMath.interp(1.75, fp), 0);
        assertEquals(7, NumpyMath.interp(2, fp), 0);
        assertEquals(7, NumpyMath.interp(9, fp), 0);
    }

    @Test
    void anAbsurdTimestepCountIsRefusedBeforeTheScheduleIsAllocated() {
        SchedulerSettings settings = SchedulerSettings.of(new ModelConfig("scheduler/scheduler_config.json",
                Map.of("num_train_timesteps", 1_000_000_000)));
        IllegalArgumentException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
                () -> assertThrows(IllegalArgumentException.class, () -> NoiseSchedule.of(settings)));
        assertEquals("scheduler/scheduler_config.json: 'num_train_timesteps' must be an integer in 2..100000, got "
                + "1000000000", e.getMessage());
    }
    /**
     * Zero terminal SNR (diffusers' {@code rescale_zero_terminal_snr}, checked against its formula in float64): √ᾱ
     * shifted and scaled so that its first value is kept and its last is 0; 0.23's DDIM and LCM keep that 0, later
     * diffusers' Euler, DPM-Solver++ and UniPC set it to 2⁻²⁴, so the first σ is about 4096; with an epsilon
     * prediction it is refused, and schedulers without the setting leave the schedule alone.
     */
    @Test
    void zeroTerminalSnrRescalesTheSchedule() {
        SchedulerSettings settings = SdxlSchedulerConfig.settings(Map.of("rescale_betas_zero_snr", true,
                "prediction_type", "v_prediction"));
        NoiseSchedule plain = NoiseSchedule.of(SdxlSchedulerConfig.settings());
        NoiseSchedule rescaled = NoiseSchedule.of(settings, NoiseSchedule.ZeroSnr.RESCALED);
        NoiseSchedule clamped = NoiseSchedule.of(settings, NoiseSchedule.ZeroSnr.RESCALED_CLAMPED);
        int n = plain.trainSteps();
        double first = Math.sqrt(plain.alphaCumprod(0));
        double last = Math.sqrt(plain.alphaCumprod(n - 1));
        for (int t = 0; t < n - 1; t++) {
            double root = (Math.sqrt(plain.alphaCumprod(t)) - last) * first / (first - last);
            // float32's √ᾱ − √ᾱ_last cancels near the end, as the reference's float32 does: a relative 1e-5 there
            assertEquals(root * root, rescaled.alphaCumprod(t), 1e-5 * root * root + 1e-12, "ᾱ " + t);
            assertEquals(rescaled.alphaCumprod(t), clamped.alphaCumprod(t), "ᾱ " + t);
        }
        assertEquals(plain.alphaCumprod(0), rescaled.alphaCumprod(0), 1e-7, "the first ᾱ is kept");
        assertEquals(0f, rescaled.alphaCumprod(n - 1));
        assertEquals(0x1p-24f, clamped.alphaCumprod(n - 1));
        assertEquals(Math.sqrt((1 - 0x1p-24) / 0x1p-24), clamped.sigma(n - 1), 1e-3);
        assertEquals(plain.alphaCumprod(n - 1), NoiseSchedule.of(settings, NoiseSchedule.ZeroSnr.UNREAD)
                .alphaCumprod(n - 1), "a scheduler without the setting");
        IllegalArgumentException epsilon = assertThrows(IllegalArgumentException.class, () -> NoiseSchedule.of(
                SdxlSchedulerConfig.settings(Map.of("rescale_betas_zero_snr", true)), NoiseSchedule.ZeroSnr.RESCALED));
        assertTrue(epsilon.getMessage().contains("'rescale_betas_zero_snr' = true") && epsilon.getMessage()
                .contains("use it with prediction_type v_prediction"), epsilon.getMessage());
    }
}

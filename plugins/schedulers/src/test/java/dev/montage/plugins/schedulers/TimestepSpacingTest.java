package dev.montage.plugins.schedulers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.testing.TestEngine;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every scheduler under each {@code timestep_spacing} on SDXL's schedule (T = 1000 training timesteps, scaled-linear
 * betas 0.00085..0.012, {@code steps_offset} 1), for N = 1, 2, 4, 8 and 25 steps, against diffusers 0.23's
 * {@code set_timesteps}:
 * <ul>
 * <li><b>Euler</b>: linspace {@code np.linspace(0, T - 1, N, dtype=float32)[::-1]} (fractional timesteps); leading
 * {@code np.arange(N)[::-1] * (T // N) + steps_offset}; trailing {@code np.round(np.arange(T, 0, -T / N)) - 1}.
 * σ = {@code np.interp(timesteps, arange(T), σ_train)} with σ_train(t) = √((1 − ᾱ_t) / ᾱ_t), then 0.
 * {@code init_noise_sigma} = max σ for linspace and trailing, √(max σ² + 1) for leading.</li>
 * <li><b>DDIM</b>: Euler's spacings with the linspace values rounded half to even; {@code init_noise_sigma} 1.</li>
 * <li><b>DPM-Solver++</b>: N + 1 points of which the last (timestep 0) is dropped: linspace
 * {@code np.round(np.linspace(0, T - 1, N + 1))[::-1][:-1]}; leading
 * {@code (np.arange(N + 1) * (T // (N + 1)))[::-1][:-1] + steps_offset}; trailing as Euler. σ at the timesteps,
 * then σ_train(0) (0.23 has no {@code final_sigmas_type}: the last step ends at training timestep 0's noise);
 * {@code init_noise_sigma} 1.</li>
 * <li><b>Karras sigmas</b> (ρ = 7): σ_i = (σ_max^(1/ρ) + i / (N − 1) · (σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ. Euler
 * takes σ_max and σ_min from its spaced σ, so the spacing moves the ends; DPM-Solver++ takes the whole training
 * range and ignores the spacing.</li>
 * </ul>
 * The timesteps of {@link #timesteps()} were worked out with numpy from these formulas. The σ are computed here from
 * ᾱ in float64, which the float32 schedule (as torch computes it) matches to 1.3e-5 relative.
 */
class TimestepSpacingTest {
    private static final double SIGMA_RTOL = 5e-5;
    private static final double KARRAS_RHO = 7;
    private static final double[] TRAINING_SIGMAS = trainingSigmas();

    private static double[] trainingSigmas() {
        double[] out = new double[1000];
        for (int t = 0; t < out.length; t++) {
            double ac = SdxlSchedulerConfig.alphaCumprod(t);
            out[t] = Math.sqrt((1 - ac) / ac);
        }
        return out;
    }

    /** σ_train at a fractional timestep, linearly interpolated. */
    private static double sigmaAt(double t) {
        int low = (int) Math.floor(t);
        if (low >= TRAINING_SIGMAS.length - 1) {
            return TRAINING_SIGMAS[TRAINING_SIGMAS.length - 1];
        }
        return TRAINING_SIGMAS[low] + (t - low) * (TRAINING_SIGMAS[low + 1] - TRAINING_SIGMAS[low]);
    }

    private static double[] karras(double sigmaMax, double sigmaMin, int steps) {
        double[] out = new double[steps];
        for (int i = 0; i < steps; i++) {
            double ramp = steps == 1 ? 0 : (double) i / (steps - 1);
            double max = Math.pow(sigmaMax, 1 / KARRAS_RHO);
            out[i] = Math.pow(max + ramp * (Math.pow(sigmaMin, 1 / KARRAS_RHO) - max), KARRAS_RHO);
        }
        return out;
    }

    private static Scheduler.Run start(Function<SchedulerSettings, Scheduler> scheduler, String spacing, int steps,
            Map<String, ?> more) {
        return scheduler.apply(SdxlSchedulerConfig.settings(Map.of("timestep_spacing", spacing))).withOverrides(more)
                .start(steps, TestEngine.manager());
    }

    private static void assertSigmas(double[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": number of σ");
        for (int i = 0; i < expected.length; i++) {
            int at = i;
            assertTrue(Math.abs(expected[i] - actual[i]) <= SIGMA_RTOL * expected[i], () -> what + ": σ_" + at
                    + " expected " + Arrays.toString(expected) + ", got " + Arrays.toString(actual));
        }
    }

    /** The timesteps of each scheduler, spacing and step count, worked out from diffusers' formulas. */
    static Stream<Arguments> timesteps() {
        return Stream.of(
                row("euler", "leading", 1),
                row("euler", "leading", 501, 1),
                row("euler", "leading", 751, 501, 251, 1),
                row("euler", "leading", 876, 751, 626, 501, 376, 251, 126, 1),
                row("euler", "leading", 961, 921, 881, 841, 801, 761, 721, 681, 641, 601, 561, 521, 481, 441, 401, 361,
                        321, 281, 241, 201, 161, 121, 81, 41, 1),
                row("euler", "linspace", 0),
                row("euler", "linspace", 999, 0),
                row("euler", "linspace", 999, 666, 333, 0),
                row("euler", "linspace", 999, 856.2857055664062f, 713.5714111328125f, 570.8571166992188f,
                        428.1428527832031f, 285.4285583496094f, 142.7142791748047f, 0),
                row("euler", "linspace", 999, 957.375f, 915.75f, 874.125f, 832.5f, 790.875f, 749.25f, 707.625f, 666,
                        624.375f, 582.75f, 541.125f, 499.5f, 457.875f, 416.25f, 374.625f, 333, 291.375f, 249.75f,
                        208.125f, 166.5f, 124.875f, 83.25f, 41.625f, 0),
                row("euler", "trailing", 999),
                row("euler", "trailing", 999, 499),
                row("euler", "trailing", 999, 749, 499, 249),
                row("euler", "trailing", 999, 874, 749, 624, 499, 374, 249, 124),
                row("euler", "trailing", 999, 959, 919, 879, 839, 799, 759, 719, 679, 639, 599, 559, 519, 479, 439,
                        399, 359, 319, 279, 239, 199, 159, 119, 79, 39),
                row("ddim", "leading", 1),
                row("ddim", "leading", 501, 1),
                row("ddim", "leading", 751, 501, 251, 1),
                row("ddim", "leading", 876, 751, 626, 501, 376, 251, 126, 1),
                row("ddim", "leading", 961, 921, 881, 841, 801, 761, 721, 681, 641, 601, 561, 521, 481, 441, 401, 361,
                        321, 281, 241, 201, 161, 121, 81, 41, 1),
                row("ddim", "linspace", 0),
                row("ddim", "linspace", 999, 0),
                row("ddim", "linspace", 999, 666, 333, 0),
                row("ddim", "linspace", 999, 856, 714, 571, 428, 285, 143, 0),
                row("ddim", "linspace", 999, 957, 916, 874, 832, 791, 749, 708, 666, 624, 583, 541, 500, 458, 416, 375,
                        333, 291, 250, 208, 166, 125, 83, 42, 0),
                row("ddim", "trailing", 999),
                row("ddim", "trailing", 999, 499),
                row("ddim", "trailing", 999, 749, 499, 249),
                row("ddim", "trailing", 999, 874, 749, 624, 499, 374, 249, 124),
                row("ddim", "trailing", 999, 959, 919, 879, 839, 799, 759, 719, 679, 639, 599, 559, 519, 479, 439, 399,
                        359, 319, 279, 239, 199, 159, 119, 79, 39),
                row("dpm", "leading", 501),
                row("dpm", "leading", 667, 334),
                row("dpm", "leading", 801, 601, 401, 201),
                row("dpm", "leading", 889, 778, 667, 556, 445, 334, 223, 112),
                row("dpm", "leading", 951, 913, 875, 837, 799, 761, 723, 685, 647, 609, 571, 533, 495, 457, 419, 381,
                        343, 305, 267, 229, 191, 153, 115, 77, 39),
                row("dpm", "linspace", 999),
                row("dpm", "linspace", 999, 500),
                row("dpm", "linspace", 999, 749, 500, 250),
                row("dpm", "linspace", 999, 874, 749, 624, 500, 375, 250, 125),
                row("dpm", "linspace", 999, 959, 919, 879, 839, 799, 759, 719, 679, 639, 599, 559, 519, 480, 440, 400,
                        360, 320, 280, 240, 200, 160, 120, 80, 40),
                row("dpm", "trailing", 999),
                row("dpm", "trailing", 999, 499),
                row("dpm", "trailing", 999, 749, 499, 249),
                row("dpm", "trailing", 999, 874, 749, 624, 499, 374, 249, 124),
                row("dpm", "trailing", 999, 959, 919, 879, 839, 799, 759, 719, 679, 639, 599, 559, 519, 479, 439, 399,
                        359, 319, 279, 239, 199, 159, 119, 79, 39));
    }

    private static Arguments row(String scheduler, String spacing, float... timesteps) {
        return Arguments.of(scheduler, spacing, timesteps.length, timesteps);
    }

    @ParameterizedTest(name = "{0} {1}, {2} steps")
    @MethodSource("timesteps")
    void timestepsSigmasAndInitialNoise(String scheduler, String spacing, int steps, float[] expected) {
        double[] sigmas = new double[steps + 1];
        for (int i = 0; i < steps; i++) {
            sigmas[i] = sigmaAt(expected[i]);
        }
        String what = scheduler + " " + spacing + " " + steps + " steps";
        switch (scheduler) {
            case "euler" -> {
                EulerDiscreteScheduler.EulerRun run = (EulerDiscreteScheduler.EulerRun) start(
                        EulerDiscreteScheduler::new, spacing, steps, Map.of());
                assertArrayEquals(expected, run.timesteps(), what);
                assertSigmas(sigmas, run.sigmas(), what);
                double max = Arrays.stream(sigmas).max().orElseThrow();
                double init = spacing.equals("leading") ? Math.sqrt(max * max + 1) : max;
                assertEquals(init, run.initNoiseSigma(), SIGMA_RTOL * init, what + ": init_noise_sigma");
            }
            case "ddim" -> {
                Scheduler.Run run = start(DdimScheduler::new, spacing, steps, Map.of());
                assertArrayEquals(expected, run.timesteps(), what);
                assertEquals(1f, run.initNoiseSigma(), what + ": init_noise_sigma");
            }
            case "dpm" -> {
                DpmSolverMultistepScheduler.DpmRun run = (DpmSolverMultistepScheduler.DpmRun) start(
                        DpmSolverMultistepScheduler::new, spacing, steps, Map.of());
                assertArrayEquals(expected, run.timesteps(), what);
                sigmas[steps] = TRAINING_SIGMAS[0];
                assertSigmas(sigmas, run.sigmas(), what);
                assertEquals(1f, run.initNoiseSigma(), what + ": init_noise_sigma");
            }
            default -> throw new IllegalArgumentException(scheduler);
        }
    }

    @ParameterizedTest(name = "{0} steps")
    @ValueSource(ints = {2, 4, 8, 25})
    void eulerKarrasSpansItsSpacingsSigmas(int steps) {
        for (String spacing : new String[] {"leading", "linspace", "trailing"}) {
            EulerDiscreteScheduler.EulerRun spaced = (EulerDiscreteScheduler.EulerRun) start(
                    EulerDiscreteScheduler::new, spacing, steps, Map.of());
            EulerDiscreteScheduler.EulerRun karras = (EulerDiscreteScheduler.EulerRun) start(
                    EulerDiscreteScheduler::new, spacing, steps, Map.of("use_karras_sigmas", true));
            float[] ends = spaced.sigmas();
            double[] expected = Arrays.copyOf(karras(ends[0], ends[steps - 1], steps), steps + 1);
            assertSigmas(expected, karras.sigmas(), "euler-karras " + spacing);
            assertEquals(spaced.initNoiseSigma(), karras.initNoiseSigma(), 1e-6,
                    "the largest σ is the spacing's: init_noise_sigma as without Karras sigmas");
        }
    }

    @ParameterizedTest(name = "{0} steps")
    @ValueSource(ints = {2, 4, 8, 25})
    void dpmKarrasSpansTheTrainingRangeWhateverTheSpacing(int steps) {
        double[] levels = karras(TRAINING_SIGMAS[999], TRAINING_SIGMAS[0], steps);
        double[] expected = Arrays.copyOf(levels, steps + 1);
        expected[steps] = levels[steps - 1];
        float[] timesteps = null;
        for (String spacing : new String[] {"leading", "linspace", "trailing"}) {
            DpmSolverMultistepScheduler.DpmRun run = (DpmSolverMultistepScheduler.DpmRun) start(
                    DpmSolverMultistepScheduler::new, spacing, steps, Map.of("use_karras_sigmas", true));
            assertSigmas(expected, run.sigmas(), "dpmpp-2m-karras " + spacing);
            if (timesteps != null) {
                assertArrayEquals(timesteps, run.timesteps(), "the same timesteps for every spacing");
            }
            timesteps = run.timesteps();
        }
    }

    @Test
    void everySchedulerRefusesAnUnknownSpacingNamingTheAllowedOnes() {
        for (Function<SchedulerSettings, Scheduler> scheduler : List.<Function<SchedulerSettings,
                Scheduler>>of(EulerDiscreteScheduler::new, DdimScheduler::new, DpmSolverMultistepScheduler::new)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> scheduler.apply(SdxlSchedulerConfig.settings(Map.of("timestep_spacing", "trail"))));
            assertEquals("test override: 'timestep_spacing' must be one of linspace, leading, trailing, got 'trail'",
                    e.getMessage());
        }
    }

    @Test
    void dpmTrailingRefusesMoreStepsThanTheClippedRangeHolds() {
        // λ < -2.5 clips the 31 noisiest training timesteps: strides of 1000 / N down from 969 reach below
        // timestep 0 (diffusers: -1) for N ≥ 32
        DpmSolverMultistepScheduler dpm = new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings(Map.of(
                "lambda_min_clipped", -2.5, "timestep_spacing", "trailing")));
        float[] t = dpm.start(31, TestEngine.manager()).timesteps();
        assertArrayEquals(new float[] {968, 936}, Arrays.copyOf(t, 2));
        assertEquals(0, t[30]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> dpm.start(32, TestEngine.manager()));
        assertEquals("DPM-Solver++ with trailing spacing has 31 timesteps for 32 steps, as lambda_min_clipped = -2.5 "
                + "leaves the 969 lowest training timesteps; expected at most 31 steps, or linspace or leading spacing",
                e.getMessage());
    }
}

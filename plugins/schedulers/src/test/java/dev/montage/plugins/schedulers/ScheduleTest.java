package dev.montage.plugins.schedulers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.testing.TestEngine;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Timesteps and σ of the SDXL configuration for spacings, Karras sigmas and step counts the golden cases do not
 * cover. The expected values were computed with numpy from a transcription of diffusers 0.23's
 * {@code set_timesteps} (its float32 torch values emulated in numpy).
 */
class ScheduleTest {
    private static final double SIGMA_ATOL = 1e-6;

    private static Scheduler.Run euler(int steps, Map<String, ?> overrides) {
        return new EulerDiscreteScheduler(SdxlSchedulerConfig.settings()).withOverrides(overrides)
                .start(steps, TestEngine.manager());
    }

    private static DpmSolverMultistepScheduler.DpmRun dpm(int steps, Map<String, ?> overrides) {
        return (DpmSolverMultistepScheduler.DpmRun) new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings())
                .withOverrides(overrides).start(steps, TestEngine.manager());
    }

    private static float[] sigmas(Scheduler.Run run) {
        return ((EulerDiscreteScheduler.EulerRun) run).sigmas();
    }

    private static void assertClose(double[] expected, float[] actual, double atol) {
        assertEquals(expected.length, actual.length, "length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            assertTrue(Math.abs(e - a) <= atol, () -> "expected " + Arrays.toString(expected) + ", got "
                    + Arrays.toString(actual));
        }
    }

    @Test
    void eulerTrailingRequestOverride() {
        Scheduler.Run run = euler(4, Map.of("timestep_spacing", "trailing"));
        assertArrayEquals(new float[] {999, 749, 499, 249}, run.timesteps());
        assertClose(new double[] {14.614645004272461, 4.081730842590332, 1.6128870248794556, 0.6932054162025452, 0},
                sigmas(run), SIGMA_ATOL);
        assertEquals(sigmas(run)[0], run.initNoiseSigma(), "trailing spacing: the largest σ, not √(σ² + 1)");
    }

    @Test
    void eulerLinspace() {
        Scheduler.Run run = euler(4, Map.of("timestep_spacing", "linspace"));
        assertArrayEquals(new float[] {999, 666, 333, 0}, run.timesteps());
        assertClose(new double[] {14.614645004272461, 2.9183082580566406, 0.9323583245277405, 0.029167532920837402,
            0}, sigmas(run), SIGMA_ATOL);
        assertEquals(sigmas(run)[0], run.initNoiseSigma());
    }

    @Test
    void eulerKarrasKeepsTheEndsOfTheLeadingScheduleAndDerivesFractionalTimesteps() {
        Scheduler.Run run = euler(4, Map.of("use_karras_sigmas", true));
        assertClose(new double[] {750.9999984105822, 411.41538902894206, 69.40315468031301, 1.000000060425075},
                run.timesteps(), 1e-4);
        assertClose(new double[] {4.116697788238525, 1.208777666091919, 0.27338719367980957, 0.04131447896361351, 0},
                sigmas(run), SIGMA_ATOL);
        assertEquals((float) Math.sqrt(4.116697788238525 * 4.116697788238525 + 1), run.initNoiseSigma(), 1e-6);
    }

    @Test
    void eulerTrailingDropsNumpysSurplusTimestep() {
        // np.arange(1000, 0, -1000 / 61) has 62 values, the last one rounding to timestep -1
        float[] t = euler(61, Map.of("timestep_spacing", "trailing")).timesteps();
        assertEquals(61, t.length);
        assertArrayEquals(new float[] {999, 983, 966}, Arrays.copyOf(t, 3));
        assertArrayEquals(new float[] {32, 15}, Arrays.copyOfRange(t, 59, 61));
    }

    @Test
    void ddimSpacings() {
        DdimScheduler ddim = new DdimScheduler(SdxlSchedulerConfig.settings());
        assertArrayEquals(new float[] {667, 334, 1}, ddim.start(3, TestEngine.manager()).timesteps());
        assertArrayEquals(new float[] {999, 666, 332},
                ddim.withOverrides(Map.of("timestep_spacing", "trailing")).start(3, TestEngine.manager()).timesteps());
        // 499.5 rounds half to even
        assertArrayEquals(new float[] {999, 500, 0},
                ddim.withOverrides(Map.of("timestep_spacing", "linspace")).start(3, TestEngine.manager()).timesteps());
        assertEquals(1f, ddim.start(3, TestEngine.manager()).initNoiseSigma());
    }

    @Test
    void dpmLeading() {
        DpmSolverMultistepScheduler.DpmRun run = dpm(4, Map.of());
        assertArrayEquals(new float[] {801, 601, 401, 201}, run.timesteps());
        assertClose(new double[] {5.134433269500732, 2.2928547859191895, 1.1682164669036865, 0.5740507245063782,
            0.029167532920837402}, run.sigmas(), SIGMA_ATOL);
        assertEquals(1f, run.initNoiseSigma());
    }

    @Test
    void dpmLinspaceTwentySteps() {
        assertArrayEquals(new float[] {999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250,
            200, 150, 100, 50}, dpm(20, Map.of("timestep_spacing", "linspace")).timesteps());
    }

    @Test
    void dpmKarrasSpansTheTrainingSigmasAndRepeatsTheLast() {
        DpmSolverMultistepScheduler.DpmRun run = dpm(4, Map.of("use_karras_sigmas", "true"));
        assertArrayEquals(new float[] {999, 687, 146, 0}, run.timesteps());
        float[] s = run.sigmas();
        assertClose(new double[] {14.614645004272461, 3.1686108112335205, 0.44692087173461914, 0.029167532920837402,
            0.029167532920837402}, s, SIGMA_ATOL);
        NoiseSchedule schedule = NoiseSchedule.of(SdxlSchedulerConfig.settings());
        assertEquals(schedule.sigma(999), s[0], "σ_max of training");
        assertEquals(schedule.sigma(0), s[3], "σ_min of training");
        for (int i = 0; i < 3; i++) {
            assertTrue(s[i] > s[i + 1], "decreasing: " + Arrays.toString(s));
        }
    }

    @Test
    void timestepsDescendForEverySchedulerAndSpacing() {
        for (String spacing : new String[] {"leading", "trailing", "linspace"}) {
            Map<String, String> o = Map.of("timestep_spacing", spacing);
            for (Scheduler s : new Scheduler[] {new EulerDiscreteScheduler(SdxlSchedulerConfig.settings(o)),
                new DdimScheduler(SdxlSchedulerConfig.settings(o)),
                new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings(o))}) {
                for (int steps : new int[] {1, 2, 7, 30, 50, 200}) {
                    float[] t = s.start(steps, TestEngine.manager()).timesteps();
                    assertEquals(steps, t.length);
                    for (int i = 1; i < steps; i++) {
                        int at = i;
                        assertTrue(t[i] < t[i - 1], () -> s.getClass().getSimpleName() + " " + spacing + " " + steps
                                + " steps: " + t[at - 1] + " then " + t[at]);
                    }
                }
            }
        }
    }

    @Test
    void ddimRefusesATimestepBeyondTraining() {
        // leading spacing for 1000 steps with steps_offset 1 ends at timestep 1000, as in diffusers (IndexError)
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DdimScheduler(SdxlSchedulerConfig.settings()).start(1000, TestEngine.manager()));
        assertTrue(e.getMessage().contains("steps_offset"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> euler(1001, Map.of()), "more steps than training steps");
        assertThrows(IllegalArgumentException.class, () -> euler(0, Map.of()));
    }
}

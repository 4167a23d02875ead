package dev.montage.plugins.schedulers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Single steps against their formulas in float64 (prediction types and options the golden cases do not use),
 * bf16 inputs, and the arrays a step leaves behind.
 */
class StepTest {
    private static final Shape SHAPE = new Shape(1, 4, 4, 4);
    private static final double ATOL = 1e-5;
    /** The reference of samplers diffusers 0.23 does not have: k-diffusion's loops, run in float32. */
    private static final String K_DIFFUSION = "k-diffusion's loop";

    /** Latents and model output. */
    private record Inputs(float[] latents, float[] output) {
        static Inputs random(long seed, double outputScale) {
            Random random = new Random(seed);
            float[] x = DpmSolverMultistepSchedulerTest.gaussian(random);
            float[] o = DpmSolverMultistepSchedulerTest.gaussian(random);
            for (int i = 0; i < o.length; i++) {
                o[i] *= (float) outputScale;
            }
            return new Inputs(x, o);
        }
    }

    private static float[] step(Scheduler scheduler, int steps, int index, Inputs in) {
        Scheduler.Run run = scheduler.start(steps, TestEngine.manager());
        try (NDManager m = TestEngine.manager().newSubManager()) {
            return run.step(m.create(in.output(), SHAPE), index, m.create(in.latents(), SHAPE)).toFloatArray();
        }
    }

    private static void assertCloseTo(double[] expected, float[] actual, String label) {
        float[] e = new float[expected.length];
        for (int i = 0; i < e.length; i++) {
            e[i] = (float) expected[i];
        }
        double error = GoldenTensors.maxAbsDiff(e, actual);
        System.out.printf("%s vs float64 formula: max-abs error %.3g%n", label, error);
        assertTrue(error <= ATOL, label + ": " + error);
    }

    @Test
    void eulerVelocityPrediction() {
        Scheduler euler = new EulerDiscreteScheduler(SdxlSchedulerConfig.settings(Map.of("prediction_type",
                "v_prediction")));
        float[] sigmas = ((EulerDiscreteScheduler.EulerRun) euler.start(4, TestEngine.manager())).sigmas();
        Inputs in = Inputs.random(1, 1);
        int index = 1;
        double sigma = sigmas[index];
        double[] expected = new double[in.latents().length];
        for (int k = 0; k < expected.length; k++) {
            double x = in.latents()[k];
            double original = in.output()[k] * (-sigma / Math.sqrt(sigma * sigma + 1)) + x / (sigma * sigma + 1);
            expected[k] = x + (x - original) / sigma * (sigmas[index + 1] - sigma);
        }
        assertCloseTo(expected, step(euler, 4, index, in), "euler v_prediction");
    }

    /** Step noise of known values, recording what each step asked for. */
    private static final class GivenNoise implements Scheduler.StepNoise {
        final float[] values;
        final List<String> asked = new ArrayList<>();

        GivenNoise(long seed) {
            values = DpmSolverMultistepSchedulerTest.gaussian(new Random(seed));
        }

        @Override
        public NDArray sample(NDManager manager, Shape shape, int index) {
            asked.add("step " + index + " " + shape);
            return manager.create(values, shape);
        }
    }

    /**
     * diffusers' EulerAncestralDiscreteScheduler.step in float64 with the given noise: down to σ_down, then
     * noise · σ_up with σ_up = √(σ_to² (σ_from² − σ_to²) / σ_from²), σ_down = √(σ_to² − σ_up²).
     */
    private static double[] eulerAncestral(Inputs in, float[] noise, double sigma, double next, boolean velocity) {
        double up = Math.sqrt(next * next * (sigma * sigma - next * next) / (sigma * sigma));
        double down = Math.sqrt(next * next - up * up);
        double[] expected = new double[in.latents().length];
        for (int k = 0; k < expected.length; k++) {
            double x = in.latents()[k];
            double o = in.output()[k];
            double original = velocity ? o * (-sigma / Math.sqrt(sigma * sigma + 1)) + x / (sigma * sigma + 1)
                    : x - sigma * o;
            expected[k] = x + (x - original) / sigma * (down - sigma) + noise[k] * up;
        }
        return expected;
    }

    @ParameterizedTest
    @ValueSource(strings = {"epsilon", "v_prediction"})
    void eulerAncestralStepsDownToSigmaDownAndAddsItsStepsNoise(String prediction) {
        Scheduler scheduler = EulerDiscreteScheduler.ancestral(SdxlSchedulerConfig.settings(Map.of("prediction_type",
                prediction)));
        GivenNoise noise = new GivenNoise(7);
        Scheduler.Run run = scheduler.start(4, TestEngine.manager(), noise);
        float[] sigmas = ((EulerDiscreteScheduler.EulerRun) run).sigmas();
        Inputs in = Inputs.random(5, 1);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(in.latents(), SHAPE);
            NDArray next = run.step(m.create(in.output(), SHAPE), 1, x);
            assertCloseTo(eulerAncestral(in, noise.values, sigmas[1], sigmas[2], prediction.equals("v_prediction")),
                    next.toFloatArray(), "euler ancestral " + prediction);
            assertEquals(List.of("step 1 " + SHAPE), noise.asked, "one draw of the latents' shape, for its step");
            assertEquals(3, m.getManagedArrays().size(), "latents, model output and the result only: the noise "
                    + "lives in the step's scope");

            // the last step goes to σ = 0: no noise, the x₀ estimate itself
            noise.asked.clear();
            float[] last = run.step(m.create(in.output(), SHAPE), 3, x).toFloatArray();
            assertCloseTo(eulerAncestral(in, noise.values, sigmas[3], 0, prediction.equals("v_prediction")), last,
                    "euler ancestral last step");
            assertEquals(List.of(), noise.asked);
        }
    }

    /**
     * Euler ancestral on Karras sigmas: the timesteps and σ of {@code euler-karras}, and each step the ancestral one of
     * its formula in float64 (down to σ_down, fresh noise of σ_up), the last to the x₀ estimate.
     */
    @Test
    void eulerAncestralKarrasTakesAncestralStepsOnTheKarrasLevels() {
        Scheduler karras = new EulerDiscreteScheduler(SdxlSchedulerConfig.settings(Map.of("use_karras_sigmas",
                true)));
        Scheduler ancestral = EulerDiscreteScheduler.ancestralKarras(SdxlSchedulerConfig.settings(Map.of(
                "use_karras_sigmas", true)));
        GivenNoise noise = new GivenNoise(3);
        Scheduler.Run run = ancestral.start(5, TestEngine.manager(), noise);
        EulerDiscreteScheduler.EulerRun levels = (EulerDiscreteScheduler.EulerRun) karras.start(5,
                TestEngine.manager());
        assertArrayEquals(levels.timesteps(), run.timesteps());
        float[] sigmas = ((EulerDiscreteScheduler.EulerRun) run).sigmas();
        assertArrayEquals(levels.sigmas(), sigmas);
        assertEquals(levels.initNoiseSigma(), run.initNoiseSigma());
        Inputs in = Inputs.random(6, 1);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(in.latents(), SHAPE);
            for (int i : new int[] {0, 2, 4}) {
                assertCloseTo(eulerAncestral(in, noise.values, sigmas[i], sigmas[i + 1], false),
                        run.step(m.create(in.output(), SHAPE), i, x).toFloatArray(), "euler ancestral karras " + i);
            }
        }
        assertFalse(Arrays.equals(levels.sigmas(), ((EulerDiscreteScheduler.EulerRun) EulerDiscreteScheduler
                .ancestral(SdxlSchedulerConfig.settings(Map.of("use_karras_sigmas", true))).start(5,
                        TestEngine.manager(), noise)).sigmas()), "the plain ancestral one reads no Karras setting");
    }

    /**
     * Whole runs against diffusers 0.23.1's own EulerAncestralDiscreteScheduler (its source run with torch 2.13, the
     * step noise given): each spacing, both prediction types; the model output is 0.3 × the scaled input
     * + 0.1 × (step + 1) and step i's noise cos(1.3 k + 0.5 i), so that the scaling, the σ and every step's noise take
     * part.
     */
    @Test
    void eulerAncestralRunsAsDiffusersRunsGivenTheSameNoise() {
        assertMatchesDiffusers(eulerAncestral("leading", "epsilon"), "euler ancestral leading epsilon", 7,
                new float[] {853f, 711f, 569f, 427f, 285f, 143f, 1f},
                new float[] {6.57065153f, 3.48545647f, 2.04731274f, 1.27206349f, 0.790061533f, 0.440309584f,
                    0.041314479f, 0f},
                6.64631176f,
                new float[] {1.518188f, -0.604485214f, -2.05968165f, -0.372818232f, 1.26332664f, -0.994618237f,
                    -5.32979727f, -6.22556591f, -2.15495682f, 2.0813508f, 1.84116733f, -1.29396856f, -2.41407919f,
                    -0.622965336f, -0.000865912065f, -2.94199896f});
        assertMatchesDiffusers(eulerAncestral("trailing", "v_prediction"), "euler ancestral trailing v_prediction", 5,
                new float[] {999f, 799f, 599f, 399f, 199f},
                new float[] {14.6146469f, 5.08776522f, 2.27646399f, 1.16057885f, 0.569285393f, 0f},
                14.6146469f,
                new float[] {-0.0572031736f, -0.942986012f, -1.10597396f, -0.30374667f, 0.280762374f, -0.224127233f,
                    -1.09459853f, -1.06427741f, -0.175302923f, 0.282333791f, -0.345182955f, -1.12547016f, -0.912036061f,
                    -0.0254778266f, 0.21991688f, -0.551116228f});
        assertMatchesDiffusers(eulerAncestral("linspace", "epsilon"), "euler ancestral linspace epsilon", 8,
                new float[] {999f, 856.285706f, 713.571411f, 570.857117f, 428.142853f, 285.428558f, 142.714279f, 0f},
                new float[] {14.6146469f, 6.67801809f, 3.52206516f, 2.06064367f, 1.27683377f, 0.791261554f,
                    0.439667493f, 0.0291675348f, 0f},
                14.6146469f,
                new float[] {1.95037901f, -0.900602162f, -2.78818655f, -0.372721523f, 1.59798384f, -2.18711019f,
                    -8.68156624f, -9.76931095f, -3.49705553f, 2.89494634f, 2.6634202f, -1.79172671f, -3.41245914f,
                    -1.07250535f, -0.640340149f, -5.23408318f});
    }

    /**
     * Whole runs against diffusers 0.23.1's own DPMSolverMultistepScheduler with {@code sde-dpmsolver++} (its source
     * run with torch 2.13, the step noise given), as {@link #eulerAncestralRunsAsDiffusersRunsGivenTheSameNoise}: each
     * spacing, both prediction types, Karras sigmas, and 16 steps, where the last step is second order too.
     */
    @Test
    void sdeDpmSolverRunsAsDiffusersRunsGivenTheSameNoise() {
        assertMatchesDiffusers(dpmSde("leading", "epsilon", false), "dpmpp-2m-sde leading epsilon", 7,
                new float[] {876f, 751f, 626f, 501f, 376f, 251f, 126f},
                new float[] {7.37184668f, 4.11669827f, 2.51092243f, 1.62369299f, 1.07603157f, 0.69839859f, 0.402218342f,
                    0.0291675348f},
                1f,
                new float[] {1.11373913f, -2.39718771f, -3.72231102f, -0.651426375f, 1.75050938f, -1.17020285f,
                    -6.30458164f, -6.78542233f, -1.73986709f, 2.35264564f, 0.72369808f, -3.27549982f, -3.53739834f,
                    -0.262658298f, 0.608642161f, -3.3633914f});
        assertMatchesDiffusers(dpmSde("trailing", "v_prediction", false), "dpmpp-2m-sde trailing v_prediction", 5,
                new float[] {999f, 799f, 599f, 399f, 199f},
                new float[] {14.6146469f, 5.08776522f, 2.27646399f, 1.16057885f, 0.569285393f, 0.0291675348f},
                1f,
                new float[] {-0.0184835736f, -1.04343808f, -1.23821044f, -0.31182152f, 0.36669904f, -0.220473289f,
                    -1.23765421f, -1.20839536f, -0.172030374f, 0.372288883f, -0.347141922f, -1.2561295f, -1.01779103f,
                    0.00645729899f, 0.292136908f, -0.603663087f});
        assertMatchesDiffusers(dpmSde("linspace", "epsilon", false), "dpmpp-2m-sde linspace epsilon", 16,
                new float[] {999f, 937f, 874f, 812f, 749f, 687f, 624f, 562f, 500f, 437f, 375f, 312f, 250f, 187f, 125f,
                    62f},
                new float[] {14.6146469f, 10.1953745f, 7.29735374f, 5.40133762f, 4.08173084f, 3.16669798f, 2.49253178f,
                    1.99801505f, 1.6182797f, 1.31441844f, 1.07248652f, 0.868023157f, 0.69579947f, 0.540969133f,
                    0.399982274f, 0.255573213f, 0.0291675348f},
                1f,
                new float[] {-1.88445461f, -5.00495005f, -6.66494799f, -4.1479702f, -1.74050617f, -4.17051363f,
                    -9.11609554f, -10.0248022f, -5.38713169f, -1.03178382f, -2.04069185f, -5.91475821f, -6.71525335f,
                    -3.88785648f, -2.78389788f, -6.25194168f});
        assertMatchesDiffusers(dpmSde("leading", "epsilon", true), "dpmpp-2m-sde leading epsilon karras", 6,
                new float[] {999f, 837f, 594f, 249f, 30f, 0f},
                new float[] {14.6146469f, 6.08215857f, 2.23216152f, 0.692573965f, 0.169757962f, 0.0291675348f,
                    0.0291675348f},
                1f,
                new float[] {4.04146814f, -1.63157547f, -7.07483435f, -4.11460114f, 2.49274468f, 2.22619843f,
                    -5.3909297f, -9.68481636f, -4.24005461f, 3.64302373f, 3.32531428f, -4.012568f, -7.43624592f,
                    -2.36317468f, 2.92763543f, -0.177278191f});
    }

    /**
     * Whole runs of DDIM with η above 0 against diffusers 0.23.1's own DDIMScheduler (its source run with torch 2.13,
     * {@code eta} given to each step and the step noise given), as
     * {@link #eulerAncestralRunsAsDiffusersRunsGivenTheSameNoise}: each spacing, both prediction types, η up to 1, the
     * sample clipped, and the final ᾱ of 1 whose last step adds no noise.
     */
    @Test
    void ddimWithEtaRunsAsDiffusersRunsGivenTheSameNoise() {
        assertMatchesDiffusers(ddim("leading", "epsilon", 0.5, Map.of()), "ddim leading epsilon eta 0.5", 7,
                new float[] {853.0f, 711.0f, 569.0f, 427.0f, 285.0f, 143.0f, 1.0f}, null, 1f,
                new float[] {1.1366683f, 0.8796439f, 0.20481992f, 0.5659284f, 0.4547466f, -1.9288204f, -5.116378f,
                    -5.570542f, -2.3346338f, 1.4287705f, 2.3288448f, 0.7158005f, -0.617041f, -0.727811f, -1.4305578f,
                    -3.7081687f});
        assertMatchesDiffusers(ddim("trailing", "v_prediction", 1, Map.of()), "ddim trailing v_prediction eta 1", 5,
                new float[] {999.0f, 799.0f, 599.0f, 399.0f, 199.0f}, null, 1f,
                new float[] {-0.06833188f, -0.97172964f, -1.1094081f, -0.276013f, 0.29983488f, -0.24091005f,
                    -1.1219575f, -1.0614707f, -0.14577308f, 0.2960376f, -0.36661145f, -1.1498226f, -0.9028089f,
                    0.0046107937f, 0.22753266f, -0.5764395f});
        assertMatchesDiffusers(ddim("linspace", "epsilon", 0.3, Map.of("clip_sample", true)),
                "ddim linspace epsilon eta 0.3 clipped", 8,
                new float[] {999.0f, 856.0f, 714.0f, 571.0f, 428.0f, 285.0f, 143.0f, 0.0f}, null, 1f,
                new float[] {0.529313f, -0.6325631f, -0.8638449f, -0.31673226f, -0.07084649f, -0.9448525f, -0.94171804f,
                    -0.8360994f, -0.4997906f, 1.0295174f, 0.22207199f, -0.91459525f, -0.78491986f, -0.39888096f,
                    -0.30048785f, -0.96817887f});
        assertMatchesDiffusers(ddim("leading", "epsilon", 0.7, Map.of("set_alpha_to_one", true)),
                "ddim leading epsilon eta 0.7 final alpha 1", 6,
                new float[] {831.0f, 665.0f, 499.0f, 333.0f, 167.0f, 1.0f}, null, 1f,
                new float[] {1.5226449f, 0.84513575f, -0.3089681f, 0.16022013f, 0.7040187f, -1.2009063f, -4.5437737f,
                    -5.4233494f, -2.2947967f, 1.6466166f, 2.4937587f, 0.47349232f, -1.0760719f, -0.7738872f,
                    -0.8010674f, -2.8879457f});
    }

    /**
     * Whole runs of LCM against diffusers 0.23.1's own LCMScheduler (its source run with torch 2.13, the step noise
     * given), as {@link #eulerAncestralRunsAsDiffusersRunsGivenTheSameNoise}: both prediction types, another
     * distillation schedule with the sample clipped, one step (the estimate alone), and another timestep scaling.
     */
    @Test
    void lcmRunsAsDiffusersRunsGivenTheSameNoise() {
        assertMatchesDiffusers(lcm("epsilon", Map.of()), "lcm 4 steps epsilon", 4,
                new float[] {999.0f, 759.0f, 519.0f, 279.0f}, null, 1f,
                new float[] {2.5055401f, 1.6543435f, -0.6866253f, -0.43152916f, 0.66418624f, -1.7746291f, -7.0304847f,
                    -9.001444f, -4.38896f, 2.2764096f, 4.2250056f, 0.9569797f, -2.1329448f, -1.9442686f, -1.5421661f,
                    -4.355399f});
        assertMatchesDiffusers(lcm("v_prediction", Map.of()), "lcm 6 steps v_prediction", 6,
                new float[] {999.0f, 839.0f, 679.0f, 519.0f, 359.0f, 199.0f}, null, 1f,
                new float[] {-0.7098572f, -1.1886002f, -0.80736506f, -0.124661975f, -0.14065287f, -0.8319118f,
                    -1.1857435f, -0.683784f, -0.061405126f, -0.2303928f, -0.94317895f, -1.1555296f, -0.5563505f,
                    -0.023440633f, -0.33751497f, -1.0384545f});
        assertMatchesDiffusers(lcm("epsilon", Map.of("original_inference_steps", 30, "clip_sample", true)),
                "lcm 8 steps epsilon distilled on 30, clipped", 8,
                new float[] {989.0f, 890.0f, 791.0f, 692.0f, 593.0f, 494.0f, 395.0f, 296.0f}, null, 1f,
                new float[] {-1.0f, -1.0f, -0.9509363f, -0.3396247f, -1.0f, -1.0f, -1.0f, -0.8727212f, -0.3116363f,
                    -1.0f, -1.0f, -1.0f, -0.76308876f, -0.2843873f, -1.0f, -1.0f});
        assertMatchesDiffusers(lcm("epsilon", Map.of()), "lcm 1 step epsilon", 1,
                new float[] {999.0f}, null, 1f,
                new float[] {1.5718805f, 7.175751f, 8.717405f, 5.4717765f, -1.0346632f, -7.741834f, -11.495249f,
                    -10.529619f, -5.299094f, 1.7363281f, 7.2677784f, 8.693728f, 5.343533f, -1.2071593f, -7.877455f,
                    -11.5302105f});
        assertMatchesDiffusers(lcm("epsilon", Map.of("timestep_scaling", 5)),
                "lcm 12 steps epsilon timestep scaling 5", 12,
                new float[] {999.0f, 919.0f, 839.0f, 759.0f, 679.0f, 599.0f, 519.0f, 439.0f, 359.0f, 279.0f, 199.0f,
                    119.0f}, null, 1f,
                new float[] {-5.022482f, -4.6790104f, -3.5773566f, -3.255121f, -4.345065f, -5.5725446f, -5.4713607f,
                    -4.3755746f, -3.8427095f, -4.3944573f, -4.874191f, -4.305246f, -3.450531f, -3.7280686f, -5.055582f,
                    -5.818498f});
    }

    /**
     * Whole runs of UniPC against diffusers 0.23.1's own UniPCMultistepScheduler (its source run with torch 2.13), as
     * {@link #eulerAncestralRunsAsDiffusersRunsGivenTheSameNoise}: each spacing, Karras sigmas, both prediction types,
     * orders 1 to 3 (and the warm-up and lower final orders between), bh1 and bh2, ε updates, the corrector disabled
     * after some steps, and a single step.
     */
    @Test
    void uniPcRunsAsDiffusersRuns() {
        assertMatchesDiffusers(uniPc(Map.of()), "unipc 7 steps", 7,
                new float[] {876.0f, 751.0f, 626.0f, 501.0f, 376.0f, 251.0f, 126.0f},
                new float[] {7.3718467f, 4.1166983f, 2.5109224f, 1.623693f, 1.0760316f, 0.6983986f, 0.40221834f,
                    0.029167535f},
                1f,
                new float[] {-0.4125415f, 1.4208175f, 1.9251838f, 0.8633462f, -1.2652968f, -3.4596114f, -4.6875772f,
                    -4.371662f, -2.6604452f, -0.3587409f, 1.4509252f, 1.9174381f, 0.8213904f, -1.3217306f, -3.503981f,
                    -4.699014f});
        assertMatchesDiffusers(uniPc(Map.of("timestep_spacing", "trailing", "prediction_type", "v_prediction")),
                "unipc 5 steps timestep_spacing trailing, prediction_type v_prediction", 5,
                new float[] {999.0f, 799.0f, 599.0f, 399.0f, 199.0f},
                new float[] {14.614647f, 5.087765f, 2.276464f, 1.1605788f, 0.5692854f, 0.029167535f},
                1f,
                new float[] {-0.28923702f, 0.012057172f, 0.0949447f, -0.079557665f, -0.42937875f, -0.78999215f,
                    -0.99179584f, -0.93987846f, -0.6586574f, -0.28039536f, 0.017005052f, 0.093671806f, -0.086452715f,
                    -0.43865305f, -0.797284f, -0.9936756f});
        assertMatchesDiffusers(uniPc(Map.of("timestep_spacing", "linspace", "solver_order", 3)),
                "unipc 10 steps timestep_spacing linspace, solver_order 3", 10,
                new float[] {999.0f, 899.0f, 799.0f, 699.0f, 599.0f, 500.0f, 400.0f, 300.0f, 200.0f, 100.0f},
                new float[] {14.614647f, 8.302806f, 5.087765f, 3.3210845f, 2.276464f, 1.6182797f, 1.1643916f,
                    0.8327532f, 0.57166636f, 0.34393182f, 0.029167535f},
                1f,
                new float[] {-1.0236956f, 1.933617f, 2.747188f, 1.0343838f, -2.3992376f, -5.93879f, -7.9195666f,
                    -7.409978f, -4.64969f, -0.9369119f, 1.9821818f, 2.734693f, 0.9667064f, -2.4902685f, -6.010361f,
                    -7.9380155f});
        assertMatchesDiffusers(uniPc(Map.of("solver_type", "bh1", "predict_x0", false)),
                "unipc 8 steps solver_type bh1, predict_x0 false", 8,
                new float[] {889.0f, 778.0f, 667.0f, 556.0f, 445.0f, 334.0f, 223.0f, 112.0f},
                new float[] {7.8805847f, 4.629621f, 2.92955f, 1.9569123f, 1.3493469f, 0.9355102f, 0.6274459f,
                    0.37089923f, 0.029167535f},
                1f,
                new float[] {-0.5886877f, 1.3168908f, 1.8411258f, 0.7374599f, -1.4750347f, -3.7557878f, -5.0321245f,
                    -4.703766f, -2.9251413f, -0.5327679f, 1.3481846f, 1.8330748f, 0.69385135f, -1.5336914f, -3.8019052f,
                    -5.0440135f});
        assertMatchesDiffusers(uniPc(Map.of("use_karras_sigmas", true)), "unipc 6 steps use_karras_sigmas true", 6,
                new float[] {999.0f, 837.0f, 594.0f, 249.0f, 30.0f, 0.0f},
                new float[] {14.614647f, 6.0821586f, 2.2321615f, 0.69257396f, 0.16975796f, 0.029167535f, 0.029167535f},
                1f,
                new float[] {-0.23592097f, 2.423943f, 3.1556852f, 1.6151558f, -1.4731107f, -4.6566544f, -6.438204f,
                    -5.9798694f, -3.4972122f, -0.15786584f, 2.4676237f, 3.1444485f, 1.5542855f, -1.5549856f, -4.721026f,
                    -6.4547973f});
        // a configuration file's list, or the text a profile option or request gives
        for (Object disabled : List.of(List.of(0, 2), "0, 2")) {
            assertMatchesDiffusers(uniPc(Map.of("disable_corrector", disabled, "lower_order_final", false)),
                    "unipc 6 steps disable_corrector " + disabled + ", lower_order_final false", 6,
                    new float[] {853.0f, 711.0f, 569.0f, 427.0f, 285.0f, 143.0f},
                    new float[] {6.5706515f, 3.4854565f, 2.0473127f, 1.2720635f, 0.79006153f, 0.44030958f,
                        0.029167535f},
                    1f,
                    new float[] {-0.31027365f, 1.3513143f, 1.8084257f, 0.84607375f, -1.0831326f, -3.0718572f,
                        -4.184773f, -3.898456f, -2.3475676f, -0.2615137f, 1.3786013f, 1.8014054f, 0.80804867f,
                        -1.1342787f, -3.1120698f, -4.1951394f});
        }
        assertMatchesDiffusers(uniPc(Map.of("solver_order", 3, "predict_x0", false, "prediction_type", "v_prediction",
                "solver_type", "midpoint")),
                "unipc 9 steps solver_order 3, predict_x0 false, prediction_type v_prediction, solver_type midpoint", 9,
                new float[] {901.0f, 801.0f, 701.0f, 601.0f, 501.0f, 401.0f, 301.0f, 201.0f, 101.0f},
                new float[] {8.390687f, 5.1344333f, 3.347765f, 2.2928548f, 1.623693f, 1.1682165f, 0.83565325f,
                    0.5740508f, 0.3461873f, 0.029167535f},
                1f,
                new float[] {-0.56615484f, -0.22793975f, -0.13489494f, -0.33078116f, -0.72346973f, -1.1282732f,
                    -1.3548067f, -1.296527f, -0.98084456f, -0.55622977f, -0.2223855f, -0.13632391f, -0.33852112f,
                    -0.7338806f, -1.1364586f, -1.3569167f});
        assertMatchesDiffusers(uniPc(Map.of()), "unipc 1 step", 1,
                new float[] {501.0f},
                new float[] {1.623693f, 0.029167535f},
                1f,
                new float[] {0.26260757f, 1.0422057f, 1.2566772f, 0.8051526f, -0.10000905f, -1.033096f, -1.5552629f,
                    -1.4209265f, -0.6932673f, 0.28548518f, 1.0550084f, 1.2533834f, 0.7873116f, -0.12400633f,
                    -1.0519632f, -1.5601267f});
    }

    private static Scheduler eulerAncestral(String spacing, String prediction) {
        return EulerDiscreteScheduler.ancestral(SdxlSchedulerConfig.settings(Map.of("timestep_spacing", spacing,
                "prediction_type", prediction)));
    }

    private static Scheduler ddim(String spacing, String prediction, double eta, Map<String, Object> more) {
        Map<String, Object> settings = new HashMap<>(more);
        settings.putAll(Map.of("timestep_spacing", spacing, "prediction_type", prediction, "eta", eta));
        return new DdimScheduler(SdxlSchedulerConfig.settings(settings));
    }

    private static Scheduler lcm(String prediction, Map<String, Object> more) {
        Map<String, Object> settings = new HashMap<>(more);
        settings.put("prediction_type", prediction);
        return new LcmScheduler(SdxlSchedulerConfig.settings(settings));
    }

    private static Scheduler uniPc(Map<String, Object> settings) {
        return new UniPcScheduler(SdxlSchedulerConfig.settings(settings));
    }

    private static Scheduler dpmSde(String spacing, String prediction, boolean karras) {
        return new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings(Map.of("timestep_spacing", spacing,
                "prediction_type", prediction, "algorithm_type", "sde-dpmsolver++", "use_karras_sigmas", karras)));
    }

    /** The run's σ, whichever scheduler it is of. */
    private static float[] sigmas(Scheduler.Run run) {
        return run instanceof DiscreteSigmas.SigmaRun discrete ? discrete.sigmas()
                : run instanceof UniPcScheduler.UniPcRun uniPc ? uniPc.sigmas()
                : ((DpmSolverMultistepScheduler.DpmRun) run).sigmas();
    }

    /**
     * DPM-Solver++(3M): the third-order update from the third step on, second order at the second (and the last but
     * one with lower_order_final below 15 steps), as diffusers 0.23.1 runs it (values of its own scheduler code).
     */
    @Test
    void thirdOrderDpmSolverRunsAsDiffusersRuns() {
        assertMatchesDiffusers(dpm3(Map.of()),
                "dpm++ 3M 6 leading steps", 6,
                new float[] {853.0f, 711.0f, 569.0f, 427.0f, 285.0f, 143.0f},
                new float[] {6.570651054382324f, 3.4854559898376465f, 2.0473127365112305f, 1.2720633745193481f,
                    0.7900615334510803f, 0.4403095841407776f, 0.029167532920837402f},
                1.0f,
                new float[] {-0.22099803388118744f, 1.5043264627456665f, 1.9789721965789795f, 0.9797053933143616f,
                    -1.0235029458999634f, -3.0885121822357178f, -4.244117259979248f, -3.9468185901641846f,
                    -2.336439609527588f, -0.17036767303943634f, 1.532659888267517f, 1.9716830253601074f,
                    0.9402217864990234f, -1.0766111612319946f, -3.1302683353424072f, -4.254881381988525f});
        assertMatchesDiffusers(dpm3(Map.of("use_karras_sigmas", true)),
                "dpm++ 3M 8 Karras steps", 8,
                new float[] {999.0f, 890.0f, 746.0f, 549.0f, 299.0f, 90.0f, 12.0f, 0.0f},
                new float[] {14.614645004272461f, 7.9029436111450195f, 4.027745723724365f, 1.910362720489502f,
                    0.8288716673851013f, 0.3211216628551483f, 0.10719937831163406f, 0.029167532920837402f,
                    0.029167532920837402f},
                1.0f,
                new float[] {-0.17961116135120392f, 2.9139580726623535f, 3.7650163173675537f, 1.9732944965362549f,
                    -1.6185321807861328f, -5.321167945861816f, -7.393210411071777f, -6.860141277313232f,
                    -3.97267484664917f, -0.08882925659418106f, 2.96476149559021f, 3.7519450187683105f,
                    1.9024980068206787f, -1.713756799697876f, -5.396036148071289f, -7.412511348724365f});
        assertMatchesDiffusers(dpm3(Map.of("timestep_spacing", "linspace")),
                "dpm++ 3M 16 linspace steps", 16,
                new float[] {999.0f, 937.0f, 874.0f, 812.0f, 749.0f, 687.0f, 624.0f, 562.0f, 500.0f, 437.0f, 375.0f,
                    312.0f, 250.0f, 187.0f, 125.0f, 62.0f},
                new float[] {14.614645004272461f, 10.195374488830566f, 7.297353744506836f, 5.401336669921875f,
                    4.081730842590332f, 3.1666977405548096f, 2.4925312995910645f, 1.9980149269104004f,
                    1.6182795763015747f, 1.3144183158874512f, 1.072486400604248f, 0.8680230379104614f,
                    0.6957994699478149f, 0.5409690737724304f, 0.3999822735786438f, 0.25557321310043335f,
                    0.029167532920837402f},
                1.0f,
                new float[] {-2.135683298110962f, 0.8797993659973145f, 1.7093772888183594f, -0.037120185792446136f,
                    -3.538283109664917f, -7.147464752197266f, -9.167200088500977f, -8.647578239440918f,
                    -5.833001613616943f, -2.0471904277801514f, 0.9293209314346313f, 1.6966358423233032f,
                    -0.10612934827804565f, -3.63110089302063f, -7.220438003540039f, -9.186013221740723f});
        assertMatchesDiffusers(dpm3(Map.of("prediction_type", "v_prediction", "lower_order_final", false)),
                "dpm++ 3M 5 leading steps, v_prediction, lower_order_final off", 5,
                new float[] {831.0f, 665.0f, 499.0f, 333.0f, 167.0f},
                new float[] {5.9064507484436035f, 2.9071223735809326f, 1.6128870248794556f, 0.9323583245277405f,
                    0.49469733238220215f, 0.029167532920837402f},
                1.0f,
                new float[] {-0.3419267237186432f, 0.06544884294271469f, 0.17752018570899963f,
                    -0.058422088623046875f, -0.5314107537269592f, -1.018991231918335f, -1.2918485403060913f,
                    -1.2216511964797974f, -0.841415524482727f, -0.32997235655784607f, 0.07213936746120453f,
                    0.1757993996143341f, -0.06774485111236572f, -0.5439506769180298f, -1.0288512706756592f,
                    -1.2943894863128662f});
    }

    /** DPM-Solver++ of order 3 with further settings. */
    private static Scheduler dpm3(Map<String, Object> more) {
        Map<String, Object> settings = new HashMap<>(more);
        settings.put("solver_order", 3);
        return new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings(settings));
    }


    /**
     * DPM2 and DPM2 ancestral: each step's first evaluation, the Euler step to its midpoint, the second evaluation
     * there and the step from the start (with σ_down and the step's noise σ_up for the ancestral one), the last step
     * an Euler step to σ = 0, as diffusers 0.23.1 runs them given the same noise (values of its own scheduler code).
     */
    @Test
    void dpm2RunsAsDiffusersRunsGivenTheSameNoise() {
        assertMatchesDiffusers(dpm2(Map.of()),
                "dpm2 5 leading steps", 5,
                new float[] {801.0f, 707.1156616210938f, 601.0f, 503.3740234375f, 401.0f, 295.194091796875f, 201.0f,
                    24.765090942382812f, 1.0f},
                null, 5.2309088706970215f,
                new float[] {-0.5766366124153137f, 0.8122929334640503f, 1.1943950653076172f, 0.38995981216430664f,
                    -1.2226734161376953f, -2.8850576877593994f, -3.8153488636016846f, -3.5760154724121094f,
                    -2.2796201705932617f, -0.5358779430389404f, 0.8351020216941833f, 1.1885271072387695f,
                    0.35817453265190125f, -1.2654268741607666f, -2.9186713695526123f, -3.824014663696289f});
        assertMatchesDiffusers(dpm2(Map.of("use_karras_sigmas", true)),
                "dpm2 6 karras steps", 6,
                new float[] {831.0f, 747.745849609375f, 654.0f, 537.088134765625f, 410.0f, 269.62432861328125f,
                    154.0f, 66.72444152832031f, 25.0f, 6.326155662536621f, 1.0f},
                null, 5.990506172180176f,
                new float[] {-0.6667159199714661f, 0.8488835692405701f, 1.2658329010009766f, 0.3880338966846466f,
                    -1.3716707229614258f, -3.185664176940918f, -4.200796604156494f, -3.939636468887329f,
                    -2.525010585784912f, -0.6222400665283203f, 0.8737729787826538f, 1.2594294548034668f,
                    0.35334956645965576f, -1.418323278427124f, -3.222343921661377f, -4.21025276184082f});
        assertMatchesDiffusers(dpm2(Map.of("timestep_spacing", "linspace", "prediction_type", "v_prediction")),
                "dpm2 4 linspace steps v_prediction", 4,
                new float[] {999.0f, 851.7592163085938f, 666.0f, 505.71856689453125f, 333.0f, 28.21884536743164f,
                    0.0f},
                null, 14.614645004272461f,
                new float[] {-0.4670887291431427f, 0.03997582942247391f, 0.17947237193584442f, -0.11420785635709763f,
                    -0.702940821647644f, -1.3098368644714355f, -1.6494630575180054f, -1.562089204788208f,
                    -1.0888065099716187f, -0.452208548784256f, 0.048303358256816864f, 0.17732959985733032f,
                    -0.12581156194210052f, -0.7185489535331726f, -1.322108507156372f, -1.6526271104812622f});
        assertMatchesDiffusers(KDpm2DiscreteScheduler.ancestral(SdxlSchedulerConfig.settings()),
                "dpm2 ancestral 5 leading steps", 5,
                new float[] {801.0f, 601.0f, 601.0f, 401.0000305175781f, 401.0f, 201.0f, 201.0f, 0.999991774559021f,
                    1.0f},
                null, 5.2309088706970215f,
                new float[] {-0.5541640520095825f, -1.4725743532180786f, -1.2331950664520264f, 0.03282363340258598f,
                    0.008563593029975891f, -2.196995496749878f, -4.307850360870361f, -3.7661004066467285f,
                    -1.227903127670288f, 0.333141028881073f, -0.36801180243492126f, -1.5164577960968018f,
                    -1.22665536403656f, -0.40025630593299866f, -1.1807976961135864f, -3.3746795654296875f});
        assertMatchesDiffusers(KDpm2DiscreteScheduler.ancestral(SdxlSchedulerConfig.settings(
                Map.of("timestep_spacing", "trailing", "use_karras_sigmas", true))),
                "dpm2 ancestral 6 trailing karras steps", 6,
                new float[] {999.0f, 900.1802368164062f, 900.0f, 774.04345703125f, 774.0f, 606.4335327148438f,
                    606.0f, 388.2748107910156f, 388.0f, 166.0f, 166.0f},
                null, 14.614645004272461f,
                new float[] {-3.1805784702301025f, -3.6979963779449463f, -2.4198665618896484f, -0.9000217914581299f,
                    -2.0358474254608154f, -5.508111953735352f, -7.616181373596191f, -6.04749059677124f,
                    -2.900594472885132f, -1.704657793045044f, -2.7576422691345215f, -3.3736801147460938f,
                    -2.355557680130005f, -1.887247085571289f, -4.008727073669434f, -6.990645885467529f});
    }

    /**
     * DPM++ SDE: each step's first evaluation, the ancestral half step to the midpoint in log σ, the second evaluation
     * there and the step from the start, each half with its Brownian noise (the second correlated with the first), the
     * last step an Euler step to σ = 0, as diffusers 0.23.1 runs it given the same Brownian path (values of its own
     * scheduler code, its Brownian tree replaced by the path the step noise gives).
     */
    @Test
    void dpmppSdeRunsAsDiffusersRunsGivenTheSameBrownianPath() {
        assertMatchesDiffusers(dpmppSde(Map.of()),
                "dpmpp sde 5 leading steps", 5,
                new float[] {801.0f, 707.11572265625f, 601.0f, 503.3740234375f, 401.0f, 295.1940612792969f, 201.0f,
                    24.76508903503418f, 1.0f},
                null, 5.2309088706970215f,
                new float[] {0.5942524671554565f, -1.9340205192565918f, -2.7592883110046387f, -0.4243300259113312f,
                    1.1275984048843384f, -1.424600601196289f, -5.421783924102783f, -5.612359046936035f,
                    -1.5616682767868042f, 1.6381160020828247f, 0.431985467672348f, -2.5225284099578857f,
                    -2.667480945587158f, -0.32988935708999634f, 0.011027179658412933f, -3.218074083328247f});
        assertMatchesDiffusers(dpmppSde(Map.of("use_karras_sigmas", true)),
                "dpmpp sde 6 karras steps", 6,
                new float[] {831.0f, 747.745849609375f, 654.2946166992188f, 537.0880737304688f, 410.4856262207031f,
                    269.6242980957031f, 153.5121307373047f, 66.72444152832031f, 24.649322509765625f,
                    6.326156139373779f, 1.0f},
                null, 5.990506172180176f,
                new float[] {0.3426191508769989f, -2.1076908111572266f, -2.872788190841675f, -0.575779914855957f,
                    0.8792092204093933f, -1.7199082374572754f, -5.6792802810668945f, -5.821746826171875f,
                    -1.7782323360443115f, 1.3961386680603027f, 0.21927914023399353f, -2.6661012172698975f,
                    -2.796104907989502f, -0.5366442799568176f, -0.2857077717781067f, -3.518655300140381f});
        assertMatchesDiffusers(dpmppSde(Map.of("timestep_spacing", "linspace", "prediction_type", "v_prediction")),
                "dpmpp sde 4 linspace steps v_prediction", 4,
                new float[] {999.0f, 851.75927734375f, 666.0f, 505.7185974121094f, 333.0f, 28.218843460083008f,
                    0.0f},
                null, 14.614645004272461f,
                new float[] {-0.24437449872493744f, -1.0995221138000488f, -1.1295911073684692f, -0.28639018535614014f,
                    0.18607373535633087f, -0.42183104157447815f, -1.2375327348709106f, -1.076104998588562f,
                    -0.17144715785980225f, 0.1651601344347f, -0.5405219793319702f, -1.2398144006729126f,
                    -0.9044232368469238f, -0.03469310328364372f, 0.0776291936635971f, -0.7499198913574219f});
        assertMatchesDiffusers(dpmppSde(Map.of("timestep_spacing", "trailing", "use_karras_sigmas", true)),
                "dpmpp sde 7 trailing karras steps", 7,
                new float[] {999.0f, 958.6800537109375f, 915.8819580078125f, 866.8201904296875f, 814.0447387695312f,
                    752.3781127929688f, 685.2316284179688f, 605.7862548828125f, 519.94921875f, 421.21710205078125f,
                    322.7149963378906f, 223.241943359375f, 142.00001525878906f},
                null, 14.614645004272461f,
                new float[] {-3.570854663848877f, -5.44458532333374f, -4.883344650268555f, -2.3278427124023438f,
                    -2.325084686279297f, -6.489249229431152f, -10.379636764526367f, -9.225671768188477f,
                    -4.4789533615112305f, -1.7990443706512451f, -3.3709754943847656f, -5.523005485534668f,
                    -4.749527931213379f, -3.012756109237671f, -4.47815465927124f, -8.649595260620117f});
    }

    /**
     * DPM++ 2S a: each step's first evaluation, the half step in log σ towards the ancestral σ_down, the second
     * evaluation at that midpoint (σ_{k+1} itself, up to rounding, for a whole ancestral step) and the step from the
     * start, then the step's fresh noise times σ_up; the last step an Euler step to σ = 0; as k-diffusion's
     * {@code sample_dpmpp_2s_ancestral} runs it on diffusers' noise levels (values of its loop in float32, given the
     * same noise).
     */
    @Test
    void dpmpp2sAncestralRunsAsKDiffusionRunsGivenTheSameNoise() {
        assertMatchesReference(dpmpp2sAncestral(Map.of()), K_DIFFUSION,
                "dpmpp 2s a 5 leading steps", 5,
                new float[] {801.0f, 600.9999389648438f, 601.0f, 401.0000305175781f, 401.0f, 201.00001525878906f,
                    201.0f, 0.999991774559021f, 1.0f},
                null, 5.2309088706970215f,
                new float[] {-0.3081902861595154f, -1.116860032081604f, -0.8749994039535522f, 0.3388139307498932f,
                    0.16580981016159058f, -2.304338216781616f, -4.652539253234863f, -4.110029220581055f,
                    -1.2988693714141846f, 0.5981457829475403f, 0.060278646647930145f, -1.135108232498169f,
                    -0.9817169904708862f, -0.30350059270858765f, -1.2657407522201538f, -3.651839256286621f});
        assertMatchesReference(dpmpp2sAncestral(Map.of("use_karras_sigmas", true)), K_DIFFUSION,
                "dpmpp 2s a 6 leading karras steps", 6,
                new float[] {831.0f, 654.2946166992188f, 654.2946166992188f, 410.4856262207031f, 410.485595703125f,
                    153.51214599609375f, 153.51214599609375f, 24.649324417114258f, 24.649324417114258f,
                    1.0000014305114746f, 1.0000001192092896f},
                null, 5.990506172180176f,
                new float[] {-0.4064098000526428f, -1.1578123569488525f, -0.9580110907554626f, 0.192266583442688f,
                    -0.006845410913228989f, -2.495936155319214f, -4.898787975311279f, -4.406096935272217f,
                    -1.556769847869873f, 0.46555814146995544f, 0.03064773976802826f, -1.17672598361969f,
                    -1.1176894903182983f, -0.5132425427436829f, -1.489571213722229f, -3.8796744346618652f});
        assertMatchesReference(dpmpp2sAncestral(Map.of("timestep_spacing", "linspace", "prediction_type",
                "v_prediction")), K_DIFFUSION,
                "dpmpp 2s a 4 linspace steps v_prediction", 4,
                new float[] {999.0f, 666.0001220703125f, 666.0f, 333.0f, 333.0f, 5.6724209571257234e-05f, 0.0f},
                null, 14.614645004272461f,
                new float[] {-0.2685001492500305f, -0.8657949566841125f, -0.8843149542808533f, -0.28902605175971985f,
                    0.03133537992835045f, -0.42591267824172974f, -1.025281310081482f, -0.9079340100288391f,
                    -0.24083484709262848f, 0.025525549426674843f, -0.4630081057548523f, -0.962378978729248f,
                    -0.7336982488632202f, -0.12915660440921783f, -0.06798754632472992f, -0.6739953756332397f});
        assertMatchesReference(dpmpp2sAncestral(Map.of("timestep_spacing", "trailing", "use_karras_sigmas", true)),
                K_DIFFUSION,
                "dpmpp 2s a 7 trailing karras steps", 7,
                new float[] {999.0f, 915.8820190429688f, 915.8820190429688f, 814.0447387695312f, 814.0447387695312f,
                    685.2316284179688f, 685.2316284179688f, 519.94921875f, 519.94921875f, 322.71502685546875f,
                    322.7149963378906f, 141.99998474121094f, 142.0f},
                null, 14.614645004272461f,
                new float[] {-3.7085235118865967f, -4.031245231628418f, -2.888227939605713f, -1.5408927202224731f,
                    -2.832785129547119f, -6.614740371704102f, -9.1434326171875f, -7.720083713531494f,
                    -4.171154499053955f, -2.29426646232605f, -2.953860282897949f, -3.7014260292053223f,
                    -3.059682607650757f, -2.86650013923645f, -5.160209655761719f, -8.367889404296875f});
    }

    /**
     * DPM++ 3M SDE: the first step first order, the second with one divided difference, the third order from the
     * third step on, fresh noise of σ_next √(1 − e^(−2ηh)) at every step but the last, which returns the x₀ estimate;
     * as k-diffusion's {@code sample_dpmpp_3m_sde} runs on these σ (values of its loop transcribed into numpy float32,
     * given the same noise; the σ are Montage's, checked against diffusers' by the other samplers' cases and, for the
     * exponential ones, by {@link #exponentialSigmasAreEvenInLogSigmaBetweenTheSpacingsEnds}). η = 0 is the
     * deterministic DPM-Solver++(3M) on the same levels.
     */
    @Test
    void dpmpp3mSdeRunsAsKDiffusionRunsGivenTheSameNoise() {
        assertMatchesReference(dpmpp3mSde(Map.of()), K_DIFFUSION,
                "dpmpp 3m sde 6 leading steps", 6,
                new float[] {831.0f, 665.0f, 499.0f, 333.0f, 167.0f, 1.0f},
                null, 5.990506172180176f,
                new float[] {-1.4519047737121582f, -2.84110689163208f, -0.20499569177627563f, 2.8987114429473877f,
                    1.2826673984527588f, -3.969424247741699f, -6.486654758453369f, -3.3218679428100586f,
                    1.0790425539016724f, 1.3007845878601074f, -1.5933095216751099f, -2.271958827972412f,
                    0.5404193997383118f, 2.062647581100464f, -1.2278791666030884f, -5.826669692993164f});
        assertMatchesReference(dpmpp3mSde(Map.of("use_exponential_sigmas", true)), K_DIFFUSION,
                "dpmpp 3m sde 7 leading exponential steps", 7,
                new float[] {853.0f, 657.3038330078125f, 412.4183044433594f, 178.4340057373047f, 49.32551956176758f,
                    9.556113243103027f, 1.0000001192092896f},
                null, 6.646311283111572f,
                new float[] {1.4104576110839844f, -1.1463271379470825f, -2.57292103767395f, -0.5402392745018005f,
                    1.4704142808914185f, -0.4957720935344696f, -4.598664283752441f, -5.40969705581665f,
                    -1.5909315347671509f, 2.074428081512451f, 1.3078687191009521f, -1.909628987312317f,
                    -2.6432464122772217f, -0.33787474036216736f, 0.613050103187561f, -2.2181930541992188f});
        assertMatchesReference(dpmpp3mSde(Map.of("timestep_spacing", "trailing", "use_karras_sigmas", true,
                "prediction_type", "v_prediction")), K_DIFFUSION,
                "dpmpp 3m sde 5 trailing karras steps v_prediction", 5,
                new float[] {999.0f, 876.5875854492188f, 710.2963256835938f, 475.3398132324219f, 199.0f},
                null, 14.614645004272461f,
                new float[] {-0.03251117467880249f, -1.1029694080352783f, -1.305018663406372f, -0.33938658237457275f,
                    0.3723900020122528f, -0.22624194622039795f, -1.2725096940994263f, -1.241588830947876f,
                    -0.17673051357269287f, 0.3731381893157959f, -0.38262099027633667f, -1.3250880241394043f,
                    -1.0705221891403198f, 0.0010315775871276855f, 0.30585214495658875f, -0.6167699098587036f});
        assertMatchesReference(dpmpp3mSde(Map.of("timestep_spacing", "linspace", "use_exponential_sigmas", true,
                "eta", 0.5)), K_DIFFUSION,
                "dpmpp 3m sde 6 linspace exponential steps eta 0.5", 6,
                new float[] {999.0f, 756.5120849609375f, 413.1634216308594f, 102.97428894042969f,
                    10.631169319152832f, 0.0f},
                null, 14.614645004272461f,
                new float[] {2.614899158477783f, 0.7386449575424194f, -1.610674500465393f, -0.48884230852127075f,
                    1.4028363227844238f, -0.8275376558303833f, -6.098466873168945f, -7.911345958709717f,
                    -3.295581340789795f, 2.6914560794830322f, 3.5717356204986572f, -0.14154070615768433f,
                    -2.5436668395996094f, -1.2074215412139893f, -0.22541525959968567f, -3.2102792263031006f});
        assertMatchesReference(dpmpp3mSde(Map.of("eta", 0)), K_DIFFUSION,
                "dpmpp 3m 5 leading steps eta 0", 5,
                new float[] {801.0f, 601.0f, 401.0f, 201.0f, 1.0f},
                null, 5.2309088706970215f,
                new float[] {0.17346079647541046f, 1.799149990081787f, 2.246387004852295f, 1.3048251867294312f,
                    -0.5827012658119202f, -2.5284619331359863f, -3.61733078956604f, -3.33720064163208f,
                    -1.819817304611206f, 0.22116708755493164f, 1.8258486986160278f, 2.2395167350769043f,
                    1.2676222324371338f, -0.632742166519165f, -2.5678045749664307f, -3.627474546432495f});
    }

    private static Scheduler dpmpp3mSde(Map<String, Object> settings) {
        return new DpmSolver3mSdeScheduler(SdxlSchedulerConfig.settings(settings));
    }

    /**
     * DPM++ 3M SDE keeps the x₀ estimates of the last two steps in the state scope (one after the first step), none
     * after the last; steps out of order are refused; with η above 0 it needs the step noise, with η = 0 none.
     */
    @Test
    void dpmpp3mSdeKeepsTwoEstimatesInTheStateScopeUntilTheLastStep() {
        Inputs in = Inputs.random(4, 1);
        try (NDManager state = TestEngine.manager().newSubManager();
                NDManager m = TestEngine.manager().newSubManager()) {
            Scheduler.Run run = dpmpp3mSde(Map.of()).start(5, state, new GivenNoise(4));
            NDArray x = m.create(in.latents(), SHAPE);
            NDArray o = m.create(in.output(), SHAPE);
            for (int i = 0; i < 5; i++) {
                x = run.step(o, i, x);
                assertEquals(i < 4 ? Math.min(i + 1, 2) : 0, state.getManagedArrays().size(), "after step " + i);
            }
            NDArray start = m.create(in.latents(), SHAPE);
            Scheduler.Run again = dpmpp3mSde(Map.of()).start(5, state, new GivenNoise(4));
            again.step(o, 1, start).close();
            IllegalStateException skipped = assertThrows(IllegalStateException.class, () -> again.step(o, 3, start));
            assertEquals("DPM++ 3M SDE steps must be taken in order: expected step 2, got 3", skipped.getMessage());
        }
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> dpmpp3mSde(Map.of()).start(5, TestEngine.manager()));
        assertTrue(e.getMessage().contains("adds fresh noise at each step"), e.getMessage());
        assertEquals(5, dpmpp3mSde(Map.of()).withOverrides(Map.of("eta", 0)).start(5, TestEngine.manager())
                .timesteps().length, "η = 0 adds none");
    }

    /**
     * The beta schedule's quantile function agrees with scipy's {@code stats.beta.ppf} (values computed by scipy 1.17)
     * to 1e-13 relative, in the tails too, and inverts the distribution function (to 1e-12, what one ulp of the
     * quantile moves it by near 1).
     */
    @Test
    void betaQuantilesAreScipys() {
        double[][] cases = {{1e-6, 0.6, 0.6, 1.8558824624053043e-10}, {0.01, 0.6, 0.6, 0.0008612388215429059},
            {0.3, 0.6, 0.6, 0.23401700387523572}, {0.77, 0.6, 0.6, 0.8461624142323502},
            {0.999999, 0.6, 0.6, 0.9999999998144118}, {1e-6, 2.5, 0.7, 0.005011298507179347},
            {0.3, 2.5, 0.7, 0.7097758912148804}, {0.999999, 2.5, 0.7, 0.9999999990081865}, {0.5, 0.6, 0.6, 0.5},
            {0, 0.6, 0.6, 0}, {1, 0.6, 0.6, 1}};
        for (double[] c : cases) {
            double q = BetaDistribution.ppf(c[0], c[1], c[2]);
            assertEquals(c[3], q, 1e-13 * Math.max(c[3], 1e-300), "ppf(" + c[0] + "; " + c[1] + ", " + c[2] + ")");
            if (c[0] > 0 && c[0] < 1) {
                // within what one ulp of q moves the distribution function where its density is steepest
                assertEquals(c[0], BetaDistribution.cdf(q, c[1], c[2]), 1e-12, "cdf(ppf(" + c[0] + "))");
            }
        }
    }

    /**
     * Exponential sigmas (diffusers' {@code use_exponential_sigmas}): the σ-parametrised schedulers spread their levels
     * evenly in log σ between the highest and the lowest of their spacing (float64 formula), each timestep the training
     * timestep of its σ, unrounded (also for DPM2, whose Karras timesteps are rounded); DPM-Solver++ spreads them over
     * the whole training range and takes each timestep's integer part, as diffusers casts them. Karras and exponential
     * together are refused naming the setting.
     */
    @ParameterizedTest
    @ValueSource(strings = {"leading", "trailing", "linspace"})
    void exponentialSigmasAreEvenInLogSigmaBetweenTheSpacingsEnds(String spacing) {
        NoiseSchedule schedule = NoiseSchedule.of(SdxlSchedulerConfig.settings());
        for (boolean round : new boolean[] {false, true}) {
            DiscreteSigmas.Levels plain = nineLevels(Map.of("timestep_spacing", spacing), round);
            DiscreteSigmas.Levels exponential = nineLevels(Map.of("timestep_spacing", spacing,
                    "use_exponential_sigmas", true), round);
            double first = Math.log(plain.sigmas()[0]);
            double last = Math.log(plain.sigmas()[8]);
            for (int i = 0; i < 9; i++) {
                double sigma = Math.exp(first + (last - first) * i / 8);
                assertEquals(sigma, exponential.sigmas()[i], 1e-6 * sigma, spacing + " σ " + i);
                assertEquals(schedule.sigmaToTimestep(exponential.sigmas()[i]), exponential.timesteps()[i], 1e-3,
                        spacing + " timestep " + i);
            }
            assertEquals(0f, exponential.sigmas()[9]);
        }
        MultistepSchedule.Levels multistep = new MultistepSchedule(schedule, TimestepSpacing.LINSPACE, 0,
                SigmaConversion.EXPONENTIAL, Double.NEGATIVE_INFINITY, "DPM-Solver++").levels(6);
        double first = Math.log(schedule.sigma(999));
        double last = Math.log(schedule.sigma(0));
        for (int i = 0; i < 6; i++) {
            double sigma = Math.exp(first + (last - first) * i / 5);
            assertEquals(sigma, multistep.sigmas()[i], 1e-6 * sigma, "DPM-Solver++ σ " + i);
            assertEquals((int) schedule.sigmaToTimestep(multistep.sigmas()[i]), multistep.timesteps()[i],
                    "DPM-Solver++ timestep " + i);
        }
        assertEquals(0f, multistep.sigmas()[6], "later diffusers' final_sigmas_type zero");
        IllegalArgumentException both = assertThrows(IllegalArgumentException.class, () -> new DiscreteSigmas(
                SdxlSchedulerConfig.settings(Map.of("use_karras_sigmas", true, "use_exponential_sigmas", true)), true));
        assertTrue(both.getMessage().contains("'use_exponential_sigmas' = true") && both.getMessage().contains(
                "use_karras_sigmas is true too"), both.getMessage());
        IllegalArgumentException beta = assertThrows(IllegalArgumentException.class, () -> new DiscreteSigmas(
                SdxlSchedulerConfig.settings(Map.of("use_beta_sigmas", true, "use_exponential_sigmas", true)), true));
        assertTrue(beta.getMessage().contains("'use_beta_sigmas' = true") && beta.getMessage().contains(
                "use_exponential_sigmas is true too"), beta.getMessage());
    }

    /**
     * DPM-Solver++ on exponential or beta levels, ODE and SDE, of 3 (second order until the last) and of 20 steps
     * (third order until the last), ends with a first-order step to σ = 0, which gives the x₀ estimate of the last
     * model output exactly, without noise.
     */
    @ParameterizedTest
    @CsvSource({"use_exponential_sigmas, dpmsolver++, 3", "use_beta_sigmas, dpmsolver++, 20",
        "use_exponential_sigmas, sde-dpmsolver++, 20", "use_beta_sigmas, sde-dpmsolver++, 3"})
    void dpmSolverOnExponentialOrBetaLevelsEndsWithTheLastEstimate(String setting, String algorithm, int steps) {
        Map<String, Object> settings = Map.of(setting, true, "algorithm_type", algorithm, "solver_order",
                algorithm.equals("dpmsolver++") ? 3 : 2);
        DpmSolverMultistepScheduler.DpmRun run = (DpmSolverMultistepScheduler.DpmRun) new DpmSolverMultistepScheduler(
                SdxlSchedulerConfig.settings(settings)).start(steps, TestEngine.manager(), new GivenNoise(2));
        assertEquals(0f, run.sigmas()[steps]);
        Inputs in = Inputs.random(7, 1);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(in.latents(), SHAPE);
            NDArray output = m.create(in.output(), SHAPE);
            for (int i = 0; i < steps - 1; i++) {
                x = run.step(output, i, x);
            }
            NoiseLevel last = NoiseLevel.of(run.sigmas()[steps - 1]);
            float[] expected = x.sub(output.mul(last.sigma())).div(last.alpha()).toFloatArray();
            float[] end = run.step(output, steps - 1, x).toFloatArray();
            for (float v : end) {
                assertTrue(Float.isFinite(v), "finite");
            }
            assertArrayEquals(expected, end, 1e-5f);
        }
    }

    /**
     * With zero terminal SNR, trailing spacing and v-prediction (the recipe of Lin et al. 2023), every scheduler that
     * reads the setting starts at the last training timestep and runs finite: Euler and the multistep solvers from σ
     * of ᾱ = 2⁻²⁴ (about 4096), DDIM and LCM from ᾱ = 0, where the v-prediction's x₀ estimate is the model output's
     * negation.
     */
    @Test
    void zeroTerminalSnrSchedulesRunFromTheLastTimestep() {
        Map<String, Object> settings = Map.of("rescale_betas_zero_snr", true, "prediction_type", "v_prediction",
                "timestep_spacing", "trailing");
        Map<String, Scheduler> schedulers = new LinkedHashMap<>();
        schedulers.put("euler", new EulerDiscreteScheduler(SdxlSchedulerConfig.settings(settings)));
        schedulers.put("euler-ancestral", EulerDiscreteScheduler.ancestral(SdxlSchedulerConfig.settings(settings)));
        schedulers.put("dpmpp-2m", new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings(settings)));
        schedulers.put("unipc", new UniPcScheduler(SdxlSchedulerConfig.settings(settings)));
        schedulers.put("ddim", new DdimScheduler(SdxlSchedulerConfig.settings(settings)));
        schedulers.put("lcm", new LcmScheduler(SdxlSchedulerConfig.settings(settings)));
        for (Map.Entry<String, Scheduler> e : schedulers.entrySet()) {
            Scheduler.Run run = e.getValue().start(5, TestEngine.manager(), new GivenNoise(1));
            assertEquals(999f, run.timesteps()[0], e.getKey());
            try (NDManager m = TestEngine.manager().newSubManager()) {
                NDArray x = m.create(Inputs.random(2, 1).latents(), SHAPE).mul(run.initNoiseSigma());
                for (int i = 0; i < run.timesteps().length; i++) {
                    NDArray output = run.scaleModelInput(x, i).mul(0.3f).add(0.1f);
                    x = run.step(output, i, x);
                }
                for (float v : x.toFloatArray()) {
                    assertTrue(Float.isFinite(v), e.getKey() + ": " + v);
                }
            }
        }
        assertEquals((float) Math.sqrt((1 - 0x1p-24) / 0x1p-24), schedulers.get("euler").start(5,
                TestEngine.manager()).initNoiseSigma(), 1e-2f);
    }

    /** Nine discrete σ levels of the SDXL schedule with {@code settings}, their Karras timesteps rounded or not. */
    private static DiscreteSigmas.Levels nineLevels(Map<String, Object> settings, boolean round) {
        return new DiscreteSigmas(SdxlSchedulerConfig.settings(settings), true, round, NoiseSchedule.ZeroSnr.UNREAD)
                .levels(9);
    }

    /** scipy's Beta(0.6, 0.6) quantiles of 1 − linspace(0, 1, 9), which diffusers' beta schedule spaces 9 levels by. */
    private static final double[] BETA_QUANTILES_9 = {1.0, 0.942843636377586, 0.824319621347305, 0.6706185042786161,
        0.5000000000000001, 0.3293814957213838, 0.17568037865269498, 0.05715636362241408, 0.0};

    /**
     * Beta sigmas (diffusers' {@code use_beta_sigmas}, A1111's Beta schedule): the levels at σ_min + q · (σ_max −
     * σ_min) for scipy's quantiles q, between the ends of the spacing, each timestep the training timestep of its σ
     * unrounded; DPM-Solver++ spans the whole training range and takes each timestep's integer part.
     */
    @ParameterizedTest
    @ValueSource(strings = {"leading", "trailing", "linspace"})
    void betaSigmasAreAtTheBetaQuantilesBetweenTheSpacingsEnds(String spacing) {
        NoiseSchedule schedule = NoiseSchedule.of(SdxlSchedulerConfig.settings());
        for (boolean round : new boolean[] {false, true}) {
            DiscreteSigmas.Levels plain = nineLevels(Map.of("timestep_spacing", spacing), round);
            DiscreteSigmas.Levels beta = nineLevels(Map.of("timestep_spacing", spacing, "use_beta_sigmas", true),
                    round);
            double max = plain.sigmas()[0];
            double min = plain.sigmas()[8];
            for (int i = 0; i < 9; i++) {
                double sigma = min + BETA_QUANTILES_9[i] * (max - min);
                assertEquals(sigma, beta.sigmas()[i], 1e-6 * sigma, spacing + " σ " + i);
                assertEquals(schedule.sigmaToTimestep(beta.sigmas()[i]), beta.timesteps()[i], 1e-3,
                        spacing + " timestep " + i);
            }
        }
        MultistepSchedule.Levels multistep = new MultistepSchedule(schedule, TimestepSpacing.LINSPACE, 0,
                SigmaConversion.BETA, Double.NEGATIVE_INFINITY, "DPM-Solver++").levels(9);
        for (int i = 0; i < 9; i++) {
            double sigma = schedule.sigma(0) + BETA_QUANTILES_9[i] * (schedule.sigma(999) - schedule.sigma(0));
            assertEquals(sigma, multistep.sigmas()[i], 1e-6 * sigma, "DPM-Solver++ σ " + i);
            assertEquals((int) schedule.sigmaToTimestep(multistep.sigmas()[i]), multistep.timesteps()[i],
                    "DPM-Solver++ timestep " + i);
        }
    }

    /**
     * A1111's {@code loglinear_interp} of the SDXL Align Your Steps levels in numpy float64 (the published 11 levels
     * for 11 steps).
     */
    private static final Map<Integer, double[]> AYS = Map.of(
            4, new double[] {14.614999999999997, 1.8550457107375453, 0.4311417287529157, 0.028999999999999998},
            11, new double[] {14.614999999999997, 6.315000000000001, 3.7709999999999995, 2.181, 1.342, 0.862, 0.555,
                0.38, 0.234, 0.113, 0.028999999999999998},
            25, new double[] {14.614999999999997, 10.302790670408507, 7.262914512367891, 5.551292987917991,
                4.478117381598852, 3.6027970088151213, 2.8678477993087417, 2.282823867088992, 1.8550457107375453,
                1.5152291031309282, 1.2465555620105013, 1.0365958201985246, 0.862, 0.7175210524627583,
                0.5972580750896339, 0.5048538081179063, 0.4311417287529157, 0.3649524512712653, 0.29819456735494027,
                0.24364817852369117, 0.18358479945923006, 0.13555414341055214, 0.09008068967313454,
                0.051111055560621156, 0.028999999999999998});

    /**
     * Align Your Steps (A1111's schedule type, diffusers' {@code AysSchedules} as the pipelines' {@code sigmas}): the
     * SDXL levels interpolated log-linearly to the steps whatever the spacing, each timestep the training timestep of
     * its σ; DPM-Solver++ takes each timestep's integer part and ends at σ = 0.
     */
    @ParameterizedTest
    @ValueSource(ints = {4, 11, 25})
    void alignYourStepsLevelsAreTheInterpolatedSdxlSchedule(int steps) {
        double[] expected = AYS.get(steps);
        assertArrayEquals(expected, SigmaConversion.alignYourSteps(steps), 1e-12);
        NoiseSchedule schedule = NoiseSchedule.of(SdxlSchedulerConfig.settings());
        for (String spacing : List.of("leading", "trailing")) {
            DiscreteSigmas.Levels levels = new DiscreteSigmas(SdxlSchedulerConfig.settings(Map.of("timestep_spacing",
                    spacing, "use_align_your_steps_sigmas", true)), true, false, NoiseSchedule.ZeroSnr.UNREAD)
                    .levels(steps);
            for (int i = 0; i < steps; i++) {
                assertEquals(expected[i], levels.sigmas()[i], 1e-6 * expected[i], spacing + " σ " + i);
                assertEquals(schedule.sigmaToTimestep(expected[i]), levels.timesteps()[i], 1e-3, spacing + " t " + i);
            }
            assertEquals(0f, levels.sigmas()[steps]);
        }
        MultistepSchedule.Levels multistep = new MultistepSchedule(schedule, TimestepSpacing.LINSPACE, 0,
                SigmaConversion.ALIGN_YOUR_STEPS, Double.NEGATIVE_INFINITY, "DPM-Solver++").levels(steps);
        for (int i = 0; i < steps; i++) {
            assertEquals(expected[i], multistep.sigmas()[i], 1e-6 * expected[i], "DPM-Solver++ σ " + i);
            assertEquals((int) schedule.sigmaToTimestep(expected[i]), multistep.timesteps()[i], "DPM-Solver++ t " + i);
        }
        assertEquals(0f, multistep.sigmas()[steps]);
    }

    /**
     * KL-optimal sigmas (ComfyUI's {@code kl_optimal}): evenly spaced in arctan σ between the spacing's ends, checked
     * against ComfyUI's formula in numpy float64 for 5 levels of SDXL's whole range; DPM-Solver++ spans that range.
     */
    @Test
    void klOptimalSigmasAreEvenInArctan() {
        double[] expected = {14.614600000000008, 2.142786273177181, 0.9616194201907788, 0.4198650846816579, 0.0292};
        assertArrayEquals(expected, SigmaConversion.klOptimal(14.6146, 0.0292, 5), 1e-12);
        assertArrayEquals(new double[] {14.6146}, SigmaConversion.klOptimal(14.6146, 0.0292, 1), 1e-12);
        NoiseSchedule schedule = NoiseSchedule.of(SdxlSchedulerConfig.settings());
        DiscreteSigmas.Levels plain = nineLevels(Map.of("timestep_spacing", "linspace"), false);
        DiscreteSigmas.Levels kl = nineLevels(Map.of("timestep_spacing", "linspace", "use_kl_optimal_sigmas", true),
                false);
        double[] levels = SigmaConversion.klOptimal(plain.sigmas()[0], plain.sigmas()[8], 9);
        for (int i = 0; i < 9; i++) {
            assertEquals(levels[i], kl.sigmas()[i], 1e-6 * levels[i], "σ " + i);
            assertEquals(schedule.sigmaToTimestep(kl.sigmas()[i]), kl.timesteps()[i], 1e-3, "timestep " + i);
            double arctan = Math.atan(plain.sigmas()[0]) + i / 8.0 * (Math.atan(plain.sigmas()[8])
                    - Math.atan(plain.sigmas()[0]));
            assertEquals(arctan, Math.atan(kl.sigmas()[i]), 1e-6, "even in arctan σ " + i);
        }
        MultistepSchedule.Levels multistep = new MultistepSchedule(schedule, TimestepSpacing.LINSPACE, 0,
                SigmaConversion.KL_OPTIMAL, Double.NEGATIVE_INFINITY, "DPM-Solver++").levels(9);
        assertEquals(schedule.sigma(999), multistep.sigmas()[0], 1e-5 * schedule.sigma(999));
        assertEquals(schedule.sigma(0), multistep.sigmas()[8], 1e-5 * schedule.sigma(0));
    }

    private static Scheduler dpmpp2sAncestral(Map<String, Object> settings) {
        return new DpmSolverAncestralScheduler(SdxlSchedulerConfig.settings(settings));
    }

    private static Scheduler dpmppSde(Map<String, Object> settings) {
        return new DpmSolverSdeScheduler(SdxlSchedulerConfig.settings(settings));
    }

    private static Scheduler dpm2(Map<String, Object> settings) {
        return new KDpm2DiscreteScheduler(SdxlSchedulerConfig.settings(settings));
    }

    /**
     * LMS of order 4 (2 and 3 while fewer steps lie behind), its coefficients the integrals of the Lagrange basis
     * polynomials, as diffusers 0.23.1 runs it (values of its own scheduler code, whose quadrature evaluates the
     * polynomials in float32).
     */
    @Test
    void lmsRunsAsDiffusersRuns() {
        assertMatchesDiffusers(lms(Map.of()),
                "lms 6 leading steps", 6,
                new float[] {831.0f, 665.0f, 499.0f, 333.0f, 167.0f, 1.0f},
                new float[] {5.9064507484436035f, 2.9071223735809326f, 1.6128870248794556f, 0.9323583245277405f,
                    0.49469733238220215f, 0.04131447896361351f, 0.0f},
                5.990506172180176f,
                new float[] {-0.07443016022443771f, 1.5647203922271729f, 2.0156586170196533f, 1.0663022994995117f,
                    -0.8368527889251709f, -2.798722267150879f, -3.896608829498291f, -3.614158868789673f,
                    -2.0842127799987793f, -0.026328735053539276f, 1.5916383266448975f, 2.0087342262268066f,
                    1.0287904739379883f, -0.8873084187507629f, -2.8383917808532715f, -3.906834602355957f});
        assertMatchesDiffusers(lms(Map.of("use_karras_sigmas", true)),
                "lms 8 karras steps", 8,
                new float[] {876.0f, 760.0444982759655f, 610.575017273426f, 420.8460834622383f, 217.3164074420929f,
                    71.62703067064285f, 13.752817571163177f, 1.0f},
                new float[] {7.371845722198486f, 4.279825210571289f, 2.373422861099243f, 1.2466888427734375f,
                    0.6134698987007141f, 0.2786618173122406f, 0.11448768526315689f, 0.04131447896361351f, 0.0f},
                7.439362049102783f,
                new float[] {-0.2336960732936859f, 1.6584464311599731f, 2.1789848804473877f, 1.0831011533737183f,
                    -1.1137933731079102f, -3.378464698791504f, -4.6458024978637695f, -4.319758415222168f,
                    -2.5536751747131348f, -0.1781703233718872f, 1.6895198822021484f, 2.170990467071533f,
                    1.0398000478744507f, -1.1720367670059204f, -3.4242565631866455f, -4.657606601715088f});
        assertMatchesDiffusers(lms(Map.of("timestep_spacing", "linspace", "prediction_type", "v_prediction")),
                "lms 5 linspace steps v_prediction", 5,
                new float[] {999.0f, 749.25f, 499.5f, 249.75f, 0.0f},
                new float[] {14.614645004272461f, 4.086089611053467f, 1.6155833005905151f, 0.6951509714126587f,
                    0.029167532920837402f, 0.0f},
                14.614645004272461f,
                new float[] {-0.2325863540172577f, 0.06008440628647804f, 0.14059975743293762f,
                    -0.028908250853419304f, -0.3687171936035156f, -0.7190095782279968f, -0.9150375723838806f,
                    -0.8646060228347778f, -0.5914336442947388f, -0.2239977866411209f, 0.06489084661006927f,
                    0.13936328887939453f, -0.035605885088443756f, -0.3777260184288025f, -0.7260926365852356f,
                    -0.9168636798858643f});
        assertMatchesDiffusers(lms(Map.of("timestep_spacing", "trailing")),
                "lms 3 trailing steps", 3,
                new float[] {999.0f, 666.0f, 332.0f},
                new float[] {14.614645004272461f, 2.9183082580566406f, 0.9292147159576416f, 0.0f},
                14.614645004272461f,
                new float[] {0.6894298195838928f, 4.408206939697266f, 5.4312615394592285f, 3.2774338722229004f,
                    -1.0402947664260864f, -5.491230487823486f, -7.982028961181641f, -7.341229438781738f,
                    -3.8702075481414795f, 0.79855877161026f, 4.469276428222656f, 5.415550231933594f,
                    3.1923303604125977f, -1.1547646522521973f, -5.581230163574219f, -8.005230903625488f});
    }

    private static Scheduler lms(Map<String, Object> settings) {
        return new LmsDiscreteScheduler(SdxlSchedulerConfig.settings(settings));
    }

    /** LMS keeps the derivatives of the last three steps in the state scope, and none after the last step. */
    @Test
    void lmsKeepsItsOrdersDerivativesInTheStateScopeUntilTheLastStep() {
        Inputs in = Inputs.random(4, 1);
        try (NDManager state = TestEngine.manager().newSubManager();
                NDManager m = TestEngine.manager().newSubManager()) {
            Scheduler.Run run = lms(Map.of()).start(6, state);
            NDArray x = m.create(in.latents(), SHAPE);
            NDArray o = m.create(in.output(), SHAPE);
            for (int i = 0; i < 6; i++) {
                x = run.step(o, i, x);
                assertEquals(i < 5 ? Math.min(i + 1, LmsDiscreteScheduler.ORDER - 1) : 0,
                        state.getManagedArrays().size(), "after step " + i);
            }
            NDArray start = m.create(in.latents(), SHAPE);
            Scheduler.Run again = lms(Map.of()).start(6, state);
            again.step(o, 1, start).close();
            IllegalStateException skipped = assertThrows(IllegalStateException.class, () -> again.step(o, 3, start));
            assertEquals("LMS steps must be taken in order: expected step 2, got 3", skipped.getMessage());
        }
    }


    /** DPM-Solver++'s heun second-order update, ODE and SDE, as diffusers 0.23.1 runs it given the same noise. */
    @Test
    void dpmSolverHeunUpdateRunsAsDiffusersRuns() {
        assertMatchesDiffusers(new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings(Map.of("solver_type",
                "heun"))),
                "dpm++ 2M heun 6 leading steps", 6,
                new float[] {853.0f, 711.0f, 569.0f, 427.0f, 285.0f, 143.0f},
                new float[] {6.570651054382324f, 3.4854559898376465f, 2.0473127365112305f, 1.2720633745193481f,
                    0.7900615334510803f, 0.4403095841407776f, 0.029167532920837402f},
                1.0f,
                new float[] {-0.25082534551620483f, 1.4567763805389404f, 1.9265475273132324f, 0.9375447034835815f,
                    -1.0450868606567383f, -3.088885545730591f, -4.232618808746338f, -3.9383747577667236f,
                    -2.3445372581481934f, -0.20071503520011902f, 1.4848190546035767f, 1.9193321466445923f,
                    0.8984664678573608f, -1.0976496934890747f, -3.130211591720581f, -4.243273735046387f});
        assertMatchesDiffusers(new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings(Map.of("solver_type",
                "heun", "algorithm_type", "sde-dpmsolver++", "use_karras_sigmas", true))),
                "dpm++ 2M SDE heun 6 karras steps", 6,
                new float[] {999.0f, 837.0f, 594.0f, 249.0f, 30.0f, 0.0f},
                new float[] {14.614645004272461f, 6.082158088684082f, 2.232161283493042f, 0.6925739049911499f,
                    0.16975794732570648f, 0.029167532920837402f, 0.029167532920837402f},
                1.0f,
                new float[] {4.687567710876465f, -4.358654499053955f, -11.765419006347656f, -6.8893632888793945f,
                    3.563065528869629f, 5.155056476593018f, -3.5426130294799805f, -9.282478332519531f,
                    -3.7856383323669434f, 4.190792560577393f, 2.0140836238861084f, -7.871636390686035f,
                    -11.175747871398926f, -2.606656789779663f, 6.163877010345459f, 3.1850874423980713f});
    }


    /**
     * Heun's first evaluation of a step and its correction, and the last step's Euler step to σ = 0, as diffusers
     * 0.23.1 runs them (values of its own scheduler code), under each spacing, Karras sigmas, v-prediction and
     * clipping.
     */
    @Test
    void heunRunsAsDiffusersRuns() {
        assertMatchesDiffusers(heun(Map.of()), "heun 5 steps leading", 5,
                new float[] {801.0f, 601.0f, 601.0f, 401.0f, 401.0f, 201.0f, 201.0f, 1.0f, 1.0f},
                new float[] {5.134433269500732f, 2.2928547859191895f, 2.2928547859191895f, 1.1682164669036865f,
                    1.1682164669036865f, 0.5740507245063782f, 0.5740507245063782f, 0.04131447896361351f,
                    0.04131447896361351f, 0.0f},
                5.2309088706970215f,
                new float[] {-0.4143967032432556f, 0.966041624546051f, 1.3458075523376465f, 0.5462903380393982f,
                    -1.0564839839935303f, -2.7087044715881348f, -3.6333086490631104f, -3.395437717437744f,
                    -2.106968879699707f, -0.37388721108436584f, 0.9887111186981201f, 1.3399752378463745f,
                    0.5146993398666382f, -1.0989758968353271f, -2.742112874984741f, -3.6419200897216797f});
        assertMatchesDiffusers(heun(Map.of("use_karras_sigmas", true)), "heun 5 steps karras", 5,
                new float[] {801.0f, 565.8301922082901f, 565.8301922082901f, 248.59303563833237f,
                    248.59303563833237f, 38.422300308942795f, 38.422300308942795f, 1.0f, 1.0f},
                new float[] {5.134433269500732f, 2.0248067378997803f, 2.0248067378997803f, 0.6921505928039551f,
                    0.6921505928039551f, 0.19469328224658966f, 0.19469328224658966f, 0.04131447896361351f,
                    0.04131447896361351f, 0.0f},
                5.2309088706970215f,
                new float[] {-0.24383987486362457f, 1.111687421798706f, 1.4845998287200928f, 0.6995107531547546f,
                    -0.8743398785591125f, -2.4967455863952637f, -3.4046638011932373f, -3.171086311340332f,
                    -1.9058681726455688f, -0.2040613889694214f, 1.133947730064392f, 1.4788728952407837f,
                    0.6684898138046265f, -0.9160650372505188f, -2.529550790786743f, -3.413120746612549f});
        assertMatchesDiffusers(heun(Map.of("timestep_spacing", "linspace", "prediction_type", "v_prediction")),
                "heun 4 steps linspace v_prediction", 4,
                new float[] {999.0f, 666.0f, 666.0f, 333.0f, 333.0f, 0.0f, 0.0f},
                new float[] {14.614645004272461f, 2.9183082580566406f, 2.9183082580566406f, 0.9323583245277405f,
                    0.9323583245277405f, 0.029167532920837402f, 0.029167532920837402f, 0.0f},
                14.614645004272461f,
                new float[] {-0.36814144253730774f, 0.1415368616580963f, 0.2817518413066864f, -0.0134412981569767f,
                    -0.6052096486091614f, -1.215234637260437f, -1.5566127300262451f, -1.4687869548797607f,
                    -0.9930643439292908f, -0.3531849980354309f, 0.14990659058094025f, 0.2795984447002411f,
                    -0.025105483829975128f, -0.6208989024162292f, -1.227569341659546f, -1.559792160987854f});
        assertMatchesDiffusers(heun(Map.of("timestep_spacing", "trailing", "clip_sample", true, "clip_sample_range",
                2.0)), "heun 3 steps trailing clip_sample", 3,
                new float[] {999.0f, 666.0f, 666.0f, 332.0f, 332.0f},
                new float[] {14.614645004272461f, 2.9183082580566406f, 2.9183082580566406f, 0.9292147159576416f,
                    0.9292147159576416f, 0.0f},
                14.614645004272461f,
                new float[] {-0.42626428604125977f, 1.4273490905761719f, 1.6330070495605469f, 1.1220195293426514f,
                    -1.387587547302246f, -2.0f, -2.0f, -2.0f, -2.0f, -0.3656139671802521f, 1.4396252632141113f,
                    1.6298491954803467f, 1.0706510543823242f, -1.451206088066101f, -2.0f, -2.0f});
    }

    /**
     * Between a step's two evaluations Heun keeps its first derivative and the step's starting latents in the state
     * scope, DPM2, DPM++ SDE and DPM++ 2S a the starting latents; nothing once the second evaluation used them, and
     * nothing at the last step. Evaluations out of order are refused.
     */
    @ParameterizedTest
    @CsvSource({"heun, 2, 'step index 1 is a correction, but no step awaits one'",
        "dpm2, 1, 'step index 1 is a second evaluation, but no step awaits one'",
        "dpmpp-sde, 1, 'step index 1 is a second evaluation, but no step awaits one'",
        "dpmpp-2s-ancestral, 1, 'step index 1 is a second evaluation, but no step awaits one'"})
    void twoEvaluationStepsKeepTheirFirstInTheStateScopeUntilTheSecond(String id, int kept, String refusal) {
        Function<Map<String, Object>, Scheduler> scheduler = switch (id) {
            case "heun" -> StepTest::heun;
            case "dpm2" -> StepTest::dpm2;
            case "dpmpp-2s-ancestral" -> StepTest::dpmpp2sAncestral;
            default -> StepTest::dpmppSde;
        };
        Inputs in = Inputs.random(4, 1);
        Scheduler.StepNoise noise = (manager, shape, index) -> manager.randomNormal(shape);
        try (NDManager state = TestEngine.manager().newSubManager();
                NDManager m = TestEngine.manager().newSubManager()) {
            Scheduler.Run run = scheduler.apply(Map.of()).start(3, state, noise);
            assertEquals(5, run.timesteps().length);
            NDArray x = m.create(in.latents(), SHAPE);
            NDArray o = m.create(in.output(), SHAPE);
            for (int i = 0; i < 5; i++) {
                x = run.step(o, i, x);
                assertEquals(i % 2 == 0 && i < 4 ? kept : 0, state.getManagedArrays().size(), "after evaluation " + i);
            }
            Scheduler.Run again = scheduler.apply(Map.of()).start(3, state, noise);
            NDArray start = m.create(in.latents(), SHAPE);
            IllegalStateException second = assertThrows(IllegalStateException.class, () -> again.step(o, 1, start));
            assertTrue(second.getMessage().contains(refusal), second.getMessage());
            again.step(o, 0, start);
            assertThrows(IllegalStateException.class, () -> again.step(o, 2, start));
        }
    }

    private static Scheduler heun(Map<String, Object> settings) {
        return new HeunDiscreteScheduler(SdxlSchedulerConfig.settings(settings));
    }

    private static void assertMatchesDiffusers(Scheduler scheduler, String label, int steps, float[] timesteps,
            float[] sigmas, float initNoiseSigma, float[] expected) {
        assertMatchesReference(scheduler, "diffusers 0.23.1", label, steps, timesteps, sigmas, initNoiseSigma,
                expected);
    }

    /** @param reference what computed the expected values, for the printed figure */
    private static void assertMatchesReference(Scheduler scheduler, String reference, String label, int steps,
            float[] timesteps, float[] sigmas, float initNoiseSigma, float[] expected) {
        Scheduler.Run run = scheduler.start(steps, TestEngine.manager(), (m, shape, index) -> {
            float[] noise = new float[(int) shape.size()];
            for (int k = 0; k < noise.length; k++) {
                noise[k] = (float) Math.cos(1.3 * k + 0.5 * index);
            }
            return m.create(noise, shape);
        });
        // Karras sigmas give fractional timesteps, which differ in float32's last bit with the training σ (below)
        assertArrayEquals(timesteps, run.timesteps(), 2e-4f, label);
        // σ within float32's last bits: the training σ come from torch's cumulative product of the alphas, whose
        // rounding differs between torch versions (the golden cases' one and the 2.13 these values were computed on)
        if (sigmas != null) {
            float[] own = sigmas(run);
            for (int i = 0; i < sigmas.length; i++) {
                assertEquals(sigmas[i], own[i], 2e-7 * sigmas[i], label + " σ " + i);
            }
        }
        assertEquals(initNoiseSigma, run.initNoiseSigma(), 2e-7 * initNoiseSigma, label);
        float[] start = new float[16];
        for (int k = 0; k < start.length; k++) {
            start[k] = (float) Math.sin(0.7 * k + 0.3);
        }
        try (NDManager m = TestEngine.manager().newSubManager()) {
            Shape shape = new Shape(1, 4, 2, 2);
            NDArray x = m.create(start, shape).mul(run.initNoiseSigma());
            for (int i = 0; i < run.timesteps().length; i++) {
                NDArray output = run.scaleModelInput(x, i).mul(0.3f).add((float) (0.1 * (i + 1)));
                x = run.step(output, i, x);
            }
            double error = GoldenTensors.maxAbsDiff(expected, x.toFloatArray());
            double scale = 0;
            for (float v : expected) {
                scale = Math.max(scale, Math.abs(v));
            }
            System.out.printf("%s vs %s: max-abs error %.3g (|x| up to %.3g)%n", label, reference, error, scale);
            // float32's rounding of exp and log differs from torch's in the last bit, which the third-order
            // coefficient (e^−h − 1 + h)/h² magnifies over many small steps: a relative bound where |x| is large
            assertTrue(error <= Math.max(ATOL, 2e-6 * scale), label + ": " + error);
        }
    }

    /** The same timesteps, σ and initial σ as the discrete scheduler without Karras sigmas, whatever the file says. */
    @ParameterizedTest
    @ValueSource(strings = {"leading", "trailing", "linspace"})
    void eulerAncestralScheduleIsTheDiscreteOnes(String spacing) {
        Map<String, Object> settings = Map.of("timestep_spacing", spacing, "use_karras_sigmas", true);
        EulerDiscreteScheduler.EulerRun discrete = (EulerDiscreteScheduler.EulerRun) new EulerDiscreteScheduler(
                SdxlSchedulerConfig.settings(Map.of("timestep_spacing", spacing))).start(7, TestEngine.manager());
        EulerDiscreteScheduler.EulerRun ancestral = (EulerDiscreteScheduler.EulerRun) EulerDiscreteScheduler
                .ancestral(SdxlSchedulerConfig.settings(settings)).start(7, TestEngine.manager(), new GivenNoise(1));
        assertArrayEquals(discrete.timesteps(), ancestral.timesteps());
        assertArrayEquals(discrete.sigmas(), ancestral.sigmas());
        assertEquals(discrete.initNoiseSigma(), ancestral.initNoiseSigma());
        Scheduler overridden = EulerDiscreteScheduler.ancestral(SdxlSchedulerConfig.settings())
                .withOverrides(Map.of("timestep_spacing", spacing));
        assertArrayEquals(discrete.timesteps(), overridden.start(7, TestEngine.manager(), new GivenNoise(1))
                .timesteps(), "a request's override keeps it ancestral");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> overridden.start(7, TestEngine.manager()));
        assertTrue(e.getMessage().contains("adds fresh noise at each step"), e.getMessage());
    }

    /**
     * DDIM with η above 0 draws the step's noise once per step, of the latents' shape, in the step's scope, except
     * where σ_t is 0 (the last step to a final ᾱ of 1); with η = 0 it draws none and needs none. Started without step
     * noise it refuses, a request's override keeping η included.
     */
    @Test
    void ddimWithEtaDrawsOneNoisePerStepWhereItsDeviationIsAboveZero() {
        GivenNoise noise = new GivenNoise(3);
        Inputs in = Inputs.random(6, 1);
        Scheduler stochastic = ddim("leading", "epsilon", 0.5, Map.of("set_alpha_to_one", true));
        Scheduler.Run run = stochastic.start(4, TestEngine.manager(), noise);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(in.latents(), SHAPE);
            float[] first = run.step(m.create(in.output(), SHAPE), 0, x).toFloatArray();
            assertEquals(List.of("step 0 " + SHAPE), noise.asked, "one draw of the latents' shape, for its step");
            assertEquals(3, m.getManagedArrays().size(), "latents, model output and the result only");
            noise.asked.clear();
            run.step(m.create(in.output(), SHAPE), 3, x);
            assertEquals(List.of(), noise.asked, "no draw where σ_t is 0");

            GivenNoise none = new GivenNoise(3);
            Scheduler.Run deterministic = ddim("leading", "epsilon", 0, Map.of("set_alpha_to_one", true))
                    .start(4, TestEngine.manager(), none);
            float[] plain = deterministic.step(m.create(in.output(), SHAPE), 0, x).toFloatArray();
            assertEquals(List.of(), none.asked);
            assertFalse(Arrays.equals(plain, first), "η changes the step");
            assertArrayEquals(plain, ddim("leading", "epsilon", 0, Map.of("set_alpha_to_one", true))
                    .start(4, TestEngine.manager()).step(m.create(in.output(), SHAPE), 0, x).toFloatArray());
        }
        for (Scheduler s : List.of(stochastic, new DdimScheduler(SdxlSchedulerConfig.settings())
                .withOverrides(Map.of("eta", "0.25")))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.start(4,
                    TestEngine.manager()));
            assertTrue(e.getMessage().contains("adds fresh noise at each step"), e.getMessage());
        }
        for (Object eta : List.of(1.5, -0.1, "much")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new DdimScheduler(SdxlSchedulerConfig.settings(Map.of("eta", eta))));
            assertTrue(e.getMessage().startsWith("test override: 'eta' must be a number"), e.getMessage());
        }
    }

    /**
     * LCM draws the step's noise once per step, of the latents' shape, in the step's scope, and none at the last step,
     * which returns the consistency estimate c_skip · x + c_out · x̂₀; it takes no more steps than its distillation
     * schedule has and refuses to start without step noise.
     */
    @Test
    void lcmNoisesEachEstimateButTheLastAndKeepsToItsDistillationSchedule() {
        GivenNoise noise = new GivenNoise(5);
        Inputs in = Inputs.random(8, 1);
        Scheduler.Run run = lcm("epsilon", Map.of()).start(4, TestEngine.manager(), noise);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(in.latents(), SHAPE);
            run.step(m.create(in.output(), SHAPE), 0, x);
            assertEquals(List.of("step 0 " + SHAPE), noise.asked, "one draw of the latents' shape, for its step");
            assertEquals(3, m.getManagedArrays().size(), "latents, model output and the result only");
            noise.asked.clear();
            float[] last = run.step(m.create(in.output(), SHAPE), 3, x).toFloatArray();
            assertEquals(List.of(), noise.asked, "the last step adds no noise");
            double alpha = SdxlSchedulerConfig.alphaCumprod(279);
            double scaled = 2790;
            double skip = 0.25 / (scaled * scaled + 0.25);
            double out = scaled / Math.sqrt(scaled * scaled + 0.25);
            double[] expected = new double[last.length];
            for (int k = 0; k < expected.length; k++) {
                double x0 = (in.latents()[k] - Math.sqrt(1 - alpha) * in.output()[k]) / Math.sqrt(alpha);
                expected[k] = out * x0 + skip * in.latents()[k];
            }
            assertCloseTo(expected, last, "lcm last step");
        }
        IllegalStateException withoutNoise = assertThrows(IllegalStateException.class,
                () -> lcm("epsilon", Map.of()).start(4, TestEngine.manager()));
        assertTrue(withoutNoise.getMessage().contains("adds fresh noise at each step"), withoutNoise.getMessage());
        IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class,
                () -> lcm("epsilon", Map.of("original_inference_steps", 8)).start(9, TestEngine.manager(), noise));
        assertEquals("the LCM scheduler takes at most original_inference_steps (8) steps, the schedule the model was "
                + "distilled on; got 9", tooMany.getMessage());
        assertArrayEquals(new float[] {999, 749, 499, 249}, lcm("epsilon", Map.of("original_inference_steps", 8))
                .start(4, TestEngine.manager(), noise).timesteps());
        for (Map<String, Object> bad : List.of(Map.<String, Object>of("timestep_scaling", 0),
                Map.<String, Object>of("original_inference_steps", 1001))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> lcm("epsilon", bad));
            assertTrue(e.getMessage().startsWith("test override: '" + bad.keySet().iterator().next() + "' must be"),
                    e.getMessage());
        }
    }

    /** DDIM with η = 0 from ᾱ_t to ᾱ_prev. */
    private static double[] ddim(Inputs in, int t, int previous, boolean velocity, double clip) {
        double at = SdxlSchedulerConfig.alphaCumprod(t);
        double ap = SdxlSchedulerConfig.alphaCumprod(previous);
        double[] out = new double[in.latents().length];
        for (int k = 0; k < out.length; k++) {
            double x = in.latents()[k];
            double o = in.output()[k];
            double original = velocity ? Math.sqrt(at) * x - Math.sqrt(1 - at) * o : (x - Math.sqrt(1 - at) * o)
                    / Math.sqrt(at);
            double eps = velocity ? Math.sqrt(at) * o + Math.sqrt(1 - at) * x : o;
            original = Math.max(-clip, Math.min(clip, original));
            out[k] = Math.sqrt(ap) * original + Math.sqrt(1 - ap) * eps;
        }
        return out;
    }

    @Test
    void ddimPredictionTypesAndClipping() {
        Inputs in = Inputs.random(2, 1);
        assertCloseTo(ddim(in, 334, 1, false, Double.POSITIVE_INFINITY),
                step(new DdimScheduler(SdxlSchedulerConfig.settings()), 3, 1, in), "ddim epsilon");
        Scheduler velocity = new DdimScheduler(SdxlSchedulerConfig.settings(Map.of("prediction_type", "v_prediction")));
        assertCloseTo(ddim(in, 334, 1, true, Double.POSITIVE_INFINITY), step(velocity, 3, 1, in), "ddim v_prediction");
        assertCloseTo(ddim(in, 667, 334, false, 1.5), step(new DdimScheduler(SdxlSchedulerConfig.settings(
                Map.of("clip_sample", true, "clip_sample_range", 1.5))), 3, 0, in), "ddim clip_sample");
        // the last step goes to ᾱ₀ without set_alpha_to_one, to 1 with it (then the result is x₀ itself)
        assertCloseTo(ddim(in, 1, 0, false, Double.POSITIVE_INFINITY),
                step(new DdimScheduler(SdxlSchedulerConfig.settings()), 3, 2, in), "ddim final ᾱ₀");
        double[] original = new double[in.latents().length];
        double a1 = SdxlSchedulerConfig.alphaCumprod(1);
        for (int k = 0; k < original.length; k++) {
            original[k] = (in.latents()[k] - Math.sqrt(1 - a1) * in.output()[k]) / Math.sqrt(a1);
        }
        assertCloseTo(original, step(new DdimScheduler(SdxlSchedulerConfig.settings(Map.of("set_alpha_to_one",
                true))), 3, 2, in), "ddim set_alpha_to_one");
    }

    @Test
    void bf16InputsGiveBf16LatentsCloseToFloat32() {
        Kernels kernels = TestEngine.kernels();
        Inputs in = Inputs.random(3, 1);
        Scheduler[] schedulers = {new EulerDiscreteScheduler(SdxlSchedulerConfig.settings()),
            new DdimScheduler(SdxlSchedulerConfig.settings()),
            new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings()),
            new HeunDiscreteScheduler(SdxlSchedulerConfig.settings())};
        for (Scheduler scheduler : schedulers) {
            Scheduler.Run wide = scheduler.start(3, TestEngine.manager());
            Scheduler.Run narrow = scheduler.start(3, TestEngine.manager());
            try (NDManager m = TestEngine.manager().newSubManager()) {
                NDArray x32 = m.create(in.latents(), SHAPE);
                NDArray o32 = m.create(in.output(), SHAPE);
                NDArray x16 = kernels.cast(x32, ComputeDType.BFLOAT16);
                NDArray o16 = kernels.cast(o32, ComputeDType.BFLOAT16);
                for (int i = 0; i < 3; i++) {
                    assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(narrow.scaleModelInput(x16, i)));
                    x16 = narrow.step(o16, i, x16);
                    x32 = wide.step(o32, i, x32);
                    assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(x16));
                    float[] expected = x32.toFloatArray();
                    float[] actual = x16.toType(DataType.FLOAT32, false).toFloatArray();
                    double scale = 0;
                    for (float v : expected) {
                        scale = Math.max(scale, Math.abs(v));
                    }
                    double error = GoldenTensors.maxAbsDiff(expected, actual);
                    String label = scheduler.getClass().getSimpleName() + " step " + i;
                    System.out.printf("%s in bf16: max-abs error %.3g (|x| up to %.3g)%n", label, error, scale);
                    assertTrue(error <= 0.03 * scale, label + ": " + error);
                }
            }
        }
    }

    @Test
    void stepsLeaveOnlyTheirResultAndScaledInputsAreSeparateArrays() {
        Inputs in = Inputs.random(4, 1);
        for (Scheduler scheduler : new Scheduler[] {new EulerDiscreteScheduler(SdxlSchedulerConfig.settings()),
            new DdimScheduler(SdxlSchedulerConfig.settings())}) {
            Scheduler.Run run = scheduler.start(3, TestEngine.manager());
            try (NDManager m = TestEngine.manager().newSubManager()) {
                NDArray x = m.create(in.latents(), SHAPE);
                NDArray o = m.create(in.output(), SHAPE);
                NDArray scaled = run.scaleModelInput(x, 0);
                assertNotSame(x, scaled);
                scaled.close();
                assertEquals(2, m.getManagedArrays().size(), "closing the model input leaves the latents");
                NDArray next = run.step(o, 0, x);
                assertEquals(3, m.getManagedArrays().size(), "latents, model output and the result only");
                assertEquals(x.getShape(), next.getShape());
            }
        }
    }

    @Test
    void indexOutsideTheRunIsRefused() {
        Scheduler.Run run = new EulerDiscreteScheduler(SdxlSchedulerConfig.settings()).start(4, TestEngine.manager());
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(new float[64], SHAPE);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run.step(x, 4, x));
            assertTrue(e.getMessage().contains("step index 4 outside 0..3"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> run.scaleModelInput(x, -1));
        }
    }
}

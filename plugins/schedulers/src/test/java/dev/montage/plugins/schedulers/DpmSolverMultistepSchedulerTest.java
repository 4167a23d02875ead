package dev.montage.plugins.schedulers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * DPM-Solver++(2M) (no golden fixture exists) against a plain float64 implementation of algorithm 2 of Lu et
 * al. (2022) written here from the paper: the exponential integrator in λ = log(α/σ) with
 * D = (1 + 1/(2r)) x₀ᵢ − 1/(2r) x₀ᵢ₋₁, r = hᵢ₋₁/hᵢ; the schedule comes from float64 betas.
 */
class DpmSolverMultistepSchedulerTest {
    private static final Shape SHAPE = new Shape(1, 4, 4, 4);
    private static final double ATOL = 1e-4;
    private static final int TRAIN_STEPS = 1000;

    /** {α, σ} of training timesteps, then that of timestep 0, where 0.23's last step ends. */
    private static double[][] levelsAt(int... timesteps) {
        double[][] levels = new double[timesteps.length + 1][];
        for (int i = 0; i <= timesteps.length; i++) {
            double ac = SdxlSchedulerConfig.alphaCumprod(i < timesteps.length ? timesteps[i] : 0);
            levels[i] = new double[] {Math.sqrt(ac), Math.sqrt(1 - ac)};
        }
        return levels;
    }

    /** σ̃ = √((1 − ᾱ)/ᾱ) of a training timestep. */
    private static double level(int t) {
        double ac = SdxlSchedulerConfig.alphaCumprod(t);
        return Math.sqrt((1 - ac) / ac);
    }

    /** {α, σ} of Karras noise levels between the training extremes, the last repeated. */
    private static double[][] karrasLevels(int steps) {
        double max = level(TRAIN_STEPS - 1);
        double min = level(0);
        double[][] levels = new double[steps + 1][];
        for (int i = 0; i < steps; i++) {
            double ramp = (double) i / (steps - 1);
            double maxRoot = Math.pow(max, 1 / 7.0);
            double level = Math.pow(maxRoot + ramp * (Math.pow(min, 1 / 7.0) - maxRoot), 7);
            double alpha = 1 / Math.sqrt(level * level + 1);
            levels[i] = new double[] {alpha, level * alpha};
        }
        levels[steps] = levels[steps - 1];
        return levels;
    }

    /**
     * DPM-Solver++(2M) in float64.
     *
     * @param secondOrder which steps are of second order
     * @param velocity    whether the model predicts v (x₀ = α x − σ v) rather than ε (x₀ = (x − σ ε)/α)
     * @return the latents after each step
     */
    private static double[][] reference(double[][] levels, float[] x0, float[][] outputs, boolean[] secondOrder,
            boolean velocity) {
        int steps = outputs.length;
        double[] x = toDoubles(x0);
        double[] previous = null;
        double previousH = 0;
        double[][] out = new double[steps][];
        for (int i = 0; i < steps; i++) {
            double alphaS = levels[i][0];
            double sigmaS = levels[i][1];
            double alphaT = levels[i + 1][0];
            double sigmaT = levels[i + 1][1];
            double h = Math.log(alphaT / sigmaT) - Math.log(alphaS / sigmaS);
            double[] data = new double[x.length];
            for (int k = 0; k < x.length; k++) {
                data[k] = velocity ? alphaS * x[k] - sigmaS * outputs[i][k] : (x[k] - sigmaS * outputs[i][k]) / alphaS;
            }
            double r = previousH / h;
            for (int k = 0; k < x.length; k++) {
                double d = secondOrder[i] ? (1 + 1 / (2 * r)) * data[k] - 1 / (2 * r) * previous[k] : data[k];
                x[k] = sigmaT / sigmaS * x[k] - alphaT * (Math.exp(-h) - 1) * d;
            }
            out[i] = x.clone();
            previous = data;
            previousH = h;
        }
        return out;
    }

    /** Runs the scheduler on the same inputs and returns the largest error against the reference. */
    private static double compare(String label, Scheduler scheduler, double[][] levels, boolean[] secondOrder,
            boolean velocity) {
        int steps = levels.length - 1;
        Random random = new Random(steps * 31L + (velocity ? 7 : 0));
        float[] x0 = gaussian(random);
        float[][] outputs = new float[steps][];
        for (int i = 0; i < steps; i++) {
            outputs[i] = gaussian(random);
        }
        double[][] expected = reference(levels, x0, outputs, secondOrder, velocity);
        Scheduler.Run run = scheduler.start(steps, TestEngine.manager());
        double worst = 0;
        double largest = 0;
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(x0, SHAPE);
            for (int i = 0; i < steps; i++) {
                NDArray next = run.step(m.create(outputs[i], SHAPE), i, x);
                x.close();
                x = next;
                double error = GoldenTensors.maxAbsDiff(toFloats(expected[i]), x.toFloatArray());
                worst = Math.max(worst, error);
                for (double v : expected[i]) {
                    largest = Math.max(largest, Math.abs(v));
                }
            }
        }
        System.out.printf("dpm++ 2M %s vs float64 reference: max-abs error %.3g (|x| up to %.3g)%n", label, worst,
                largest);
        assertTrue(worst <= ATOL, label + ": " + worst);
        return worst;
    }

    /** DPM-Solver++(2M)'s orders: the first step of first order, the last one too when {@code lowerOrderLast}. */
    private static boolean[] secondOrder(int steps, boolean lowerOrderLast) {
        boolean[] out = new boolean[steps];
        for (int i = 1; i < steps; i++) {
            out[i] = i < steps - 1 || !lowerOrderLast;
        }
        return out;
    }

    private static DpmSolverMultistepScheduler dpm(Map<String, ?> overrides) {
        return new DpmSolverMultistepScheduler(SdxlSchedulerConfig.settings(overrides));
    }

    @Test
    void fourLeadingStepsWithLowerOrderFinal() {
        compare("4 leading steps", dpm(Map.of()), levelsAt(801, 601, 401, 201), secondOrder(4, true), false);
    }

    @Test
    void lowerOrderFinalChangesOnlyTheLastStep() {
        compare("4 leading steps, lower_order_final off", dpm(Map.of("lower_order_final", false)),
                levelsAt(801, 601, 401, 201), secondOrder(4, false), false);
        float[][] withIt = finalLatents(dpm(Map.of()));
        float[][] without = finalLatents(dpm(Map.of("lower_order_final", false)));
        assertEquals(0, GoldenTensors.maxAbsDiff(withIt[0], without[0]), "steps before the last are the same");
        assertTrue(GoldenTensors.maxAbsDiff(withIt[1], without[1]) > 1e-3, "the last step differs");
    }

    @Test
    void twentyStepsAreSecondOrderToTheEnd() {
        int[] t = {999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50};
        compare("20 linspace steps", dpm(Map.of("timestep_spacing", "linspace")), levelsAt(t), secondOrder(20, false),
                false);
    }

    @Test
    void karrasSigmas() {
        compare("4 Karras steps", dpm(Map.of("use_karras_sigmas", true)), karrasLevels(4), secondOrder(4, true), false);
        compare("12 Karras steps", dpm(Map.of("use_karras_sigmas", true)), karrasLevels(12), secondOrder(12, true),
                false);
    }

    @Test
    void velocityPrediction() {
        compare("4 leading steps, v_prediction", dpm(Map.of("prediction_type", "v_prediction")),
                levelsAt(801, 601, 401, 201), secondOrder(4, true), true);
    }

    @Test
    void firstOrderSolver() {
        // solver_order 1 is DDIM in λ: every step first order
        compare("solver_order 1", dpm(Map.of("solver_order", 1, "lower_order_final", false)),
                levelsAt(801, 601, 401, 201), new boolean[4], false);
    }

    /** A run may begin at any step (a generation from a picture); from there its steps come in order. */
    @Test
    void stepsMustComeInOrder() {
        Scheduler.Run run = dpm(Map.of()).start(4, TestEngine.manager());
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(gaussian(new Random(1)), SHAPE);
            run.step(x, 1, x).close();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> run.step(x, 3, x));
            assertEquals("DPM-Solver++ steps must be taken in order: expected step 2, got 3", e.getMessage());
            assertEquals(m, x.getManager(), "the latents are back with their owner");
            run.step(x, 2, x).close();
        }
    }

    /** Order 2 keeps the previous step's x₀ estimate, order 3 the two previous ones; none after the last step. */
    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void keepsOnlyThePreviousEstimatesInTheStateScopeAndReleasesThemAfterTheLastStep(int order) {
        try (NDManager state = TestEngine.manager().newSubManager();
                NDManager inputs = TestEngine.manager().newSubManager()) {
            Scheduler.Run run = dpm(Map.of("solver_order", order)).start(4, state);
            Random random = new Random(2);
            NDArray x = inputs.create(gaussian(random), SHAPE);
            for (int i = 0; i < 4; i++) {
                // as in a generation: the latents of each step belong to a scope closed after the step
                try (NDManager step = state.newSubManager()) {
                    NDArray current = Scopes.borrow(x, step);
                    NDArray next = run.step(step.create(gaussian(random), SHAPE), i, current);
                    next.attach(inputs);
                    x.close();
                    x = next;
                }
                int expected = i < 3 ? Math.min(i + 1, order - 1) : 0;
                assertEquals(expected, state.getManagedArrays().size(), "after step " + i + ": "
                        + (i < 3 ? "the x₀ estimates the next steps need" : "nothing") + " in the state scope");
            }
            assertEquals(1, inputs.getManagedArrays().size(), "only the final latents");
        }
    }

    private static float[][] finalLatents(Scheduler scheduler) {
        Random random = new Random(3);
        float[][] outputs = new float[5][];
        for (int i = 0; i < 5; i++) {
            outputs[i] = gaussian(random);
        }
        Scheduler.Run run = scheduler.start(4, TestEngine.manager());
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(outputs[4], SHAPE);
            float[][] last = new float[2][];
            for (int i = 0; i < 4; i++) {
                x = run.step(m.create(outputs[i], SHAPE), i, x);
                if (i >= 2) {
                    last[i - 2] = x.toFloatArray();
                }
            }
            return last;
        }
    }

    static float[] gaussian(Random random) {
        float[] out = new float[(int) SHAPE.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) random.nextGaussian();
        }
        return out;
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    private static float[] toFloats(double[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (float) values[i];
        }
        return out;
    }
}

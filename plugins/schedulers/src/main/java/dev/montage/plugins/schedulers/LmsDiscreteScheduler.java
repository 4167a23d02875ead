package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Scheduler;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * diffusers' {@code LMSDiscreteScheduler} (0.23), A1111's "LMS": the linear multistep method on the probability-flow
 * ODE in σ, on the Euler scheduler's noise levels. Step i combines the ODE derivatives (x − x₀)/σ of the last
 * min(i + 1, 4) steps, each weighted by the integral from σ_i to σ_{i+1} of its Lagrange basis polynomial through those
 * steps' σ (order 4, the step's default in diffusers' pipelines).
 *
 * <p>diffusers integrates the polynomials with scipy's adaptive quadrature; a polynomial of degree 3 or less is
 * integrated exactly here by 4-point Gauss–Legendre, which agrees with it to the rounding of its float32 integrand.
 * Settings: {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas}, {@code prediction_type}
 * ({@code epsilon} or {@code v_prediction}), {@code timestep_spacing} (default {@code linspace}),
 * {@code steps_offset}, {@code use_karras_sigmas}.
 */
final class LmsDiscreteScheduler implements Scheduler {
    /** The order diffusers' pipelines step with (the {@code step} argument's default). */
    static final int ORDER = 4;
    /** Gauss–Legendre nodes and weights on [−1, 1]: exact for polynomials up to degree 7. */
    private static final double[] NODES = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563,
        0.8611363115940526};
    private static final double[] WEIGHTS = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461,
        0.3478548451374538};

    private final SchedulerSettings settings;
    private final DiscreteSigmas noiseLevels;
    private final PredictionType prediction;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    LmsDiscreteScheduler(SchedulerSettings settings) {
        this.settings = settings;
        noiseLevels = new DiscreteSigmas(settings, true);
        prediction = PredictionType.of(settings);
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this : new LmsDiscreteScheduler(settings.override(overrides));
    }

    @Override
    public Run start(int steps, NDManager state) {
        DiscreteSigmas.Levels levels = noiseLevels.levels(steps);
        return new LmsRun(levels.timesteps(), levels.sigmas(), levels.initNoiseSigma(), state);
    }

    /**
     * diffusers' {@code get_lms_coefficient}: ∫ from σ_i to σ_{i+1} of Π_{k ≠ j} (τ − σ_{i−k}) / (σ_{i−j} − σ_{i−k}),
     * k over the {@code order} latest steps.
     */
    static double coefficient(float[] sigmas, int order, int i, int j) {
        double from = sigmas[i];
        double to = sigmas[i + 1];
        double half = (to - from) / 2;
        double integral = 0;
        for (int n = 0; n < NODES.length; n++) {
            double tau = from + half * (NODES[n] + 1);
            double product = 1;
            for (int k = 0; k < order; k++) {
                if (k != j) {
                    product *= (tau - sigmas[i - k]) / ((double) sigmas[i - j] - sigmas[i - k]);
                }
            }
            integral += WEIGHTS[n] * product;
        }
        return integral * half;
    }

    /**
     * One generation's LMS sampling, holding the derivatives of the last {@value #ORDER} steps (attached to the
     * generation's state manager; the oldest closed when a newer one replaces it, all after the last step, or with
     * that manager when a generation stops early).
     */
    final class LmsRun extends DiscreteSigmas.SigmaRun {
        private final float[] sigmas;
        private final NDManager state;
        /** The derivatives of the previous steps, the latest last. */
        private final List<NDArray> derivatives = new ArrayList<>();

        private LmsRun(float[] timesteps, float[] sigmas, float initNoiseSigma, NDManager state) {
            super(timesteps, sigmas, initNoiseSigma);
            this.sigmas = sigmas;
            this.state = Objects.requireNonNull(state, "state");
        }

        /**
         * x + Σ_j c_j · d_{i−j}, the derivatives summed newest first in float32 as diffusers sums them.
         *
         * @throws IllegalStateException when steps are not taken in order (the method needs the previous ones)
         */
        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            stepsBefore(index, "LMS");
            float sigma = sigmas[index];
            NDArray derivative = latents.sub(prediction.originalAtLevel(modelOutput, latents, sigma)).div(sigma);
            int order = Math.min(index + 1, ORDER);
            NDArray sum = derivative.mul((float) coefficient(sigmas, order, index, 0));
            NDManager scope = latents.getManager();
            // diffusers pairs the coefficients with the derivatives it has: a run begun at a later step (from a
            // picture) has fewer than its order
            for (int j = 1; j < Math.min(order, derivatives.size() + 1); j++) {
                NDArray earlier = Scopes.borrow(derivatives.get(derivatives.size() - j), scope);
                sum = sum.add(earlier.mul((float) coefficient(sigmas, order, index, j)));
            }
            NDArray next = latents.add(sum);
            boolean last = index == steps() - 1;
            if (!last) {
                derivative.attach(state);
                derivatives.add(derivative);
            }
            while (derivatives.size() > (last ? 0 : ORDER - 1)) {
                derivatives.remove(0).close();
            }
            return next;
        }
    }
}

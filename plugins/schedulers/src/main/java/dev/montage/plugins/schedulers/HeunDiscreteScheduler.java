package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Scheduler;
import java.util.Map;
import java.util.Objects;

/**
 * diffusers' {@code HeunDiscreteScheduler} (0.23), A1111's "Heun": Heun's second-order method on the
 * probability-flow ODE in σ, on the noise levels of the Euler scheduler. Each step but the last evaluates the model
 * twice, at its own noise level and at the next one on the Euler prediction, and moves with the mean of the two
 * derivatives; the last step, down to σ = 0, is an Euler step. A run of N steps thus has 2N − 1 timesteps, each after
 * the first twice, as diffusers' {@code set_timesteps} lists them, and as many model evaluations.
 *
 * <p>Settings: {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas}, {@code prediction_type}
 * ({@code epsilon} or {@code v_prediction}), {@code timestep_spacing} (default {@code linspace}),
 * {@code steps_offset}, {@code use_karras_sigmas}, {@code clip_sample} (default false) and
 * {@code clip_sample_range}.
 */
final class HeunDiscreteScheduler implements Scheduler {
    private final SchedulerSettings settings;
    private final DiscreteSigmas noiseLevels;
    private final PredictionType prediction;
    private final SampleClipping clipping;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    HeunDiscreteScheduler(SchedulerSettings settings) {
        this.settings = settings;
        noiseLevels = new DiscreteSigmas(settings, true);
        prediction = PredictionType.of(settings);
        clipping = SampleClipping.withoutThresholding(settings, false);
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this : new HeunDiscreteScheduler(settings.override(overrides));
    }

    /** diffusers' {@code repeat_interleave(2)}: each timestep and σ after the first twice, then σ = 0. */
    @Override
    public Run start(int steps, NDManager state) {
        DiscreteSigmas.Levels levels = noiseLevels.levels(steps);
        float[] timesteps = new float[2 * steps - 1];
        float[] sigmas = new float[2 * steps];
        timesteps[0] = levels.timesteps()[0];
        sigmas[0] = levels.sigmas()[0];
        for (int i = 1; i < steps; i++) {
            timesteps[2 * i - 1] = levels.timesteps()[i];
            timesteps[2 * i] = levels.timesteps()[i];
            sigmas[2 * i - 1] = levels.sigmas()[i];
            sigmas[2 * i] = levels.sigmas()[i];
        }
        return new HeunRun(timesteps, sigmas, levels.initNoiseSigma(), state);
    }

    /**
     * One generation's Heun sampling. Between the two evaluations of a step it keeps the first derivative and the
     * latents the step started from, attached to the generation's state manager (closed by the correction that
     * uses them, or with that manager when a generation stops early); the last step keeps nothing.
     */
    final class HeunRun extends DiscreteSigmas.SigmaRun {
        private final NDManager state;
        private NDArray firstDerivative;
        private NDArray start;
        /** The step's σ change, or NaN while no step awaits its correction (diffusers' {@code dt is None}). */
        private float dt = Float.NaN;

        private HeunRun(float[] timesteps, float[] sigmas, float initNoiseSigma, NDManager state) {
            super(timesteps, sigmas, initNoiseSigma);
            this.state = Objects.requireNonNull(state, "state");
        }

        @Override
        public int firstEvaluationOf(int step) {
            return 2 * step;
        }

        /**
         * A first evaluation: x₀ estimate at σ, derivative (x − x₀)/σ, the Euler prediction x + d · (σ_next − σ).
         * Its correction: x₀ estimate at σ_next on that prediction, derivative (x̂ − x₀)/σ_next, and from the step's
         * start x + ½ (d + d̂) · (σ_next − σ).
         *
         * @throws IllegalStateException when evaluations are not taken in order
         */
        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            boolean first = Float.isNaN(dt);
            if (first != (index % 2 == 0)) {
                throw new IllegalStateException("Heun steps must be taken in order: step index " + index + " is a "
                        + (first ? "correction, but no step awaits one" : "first evaluation, but a step awaits its "
                        + "correction"));
            }
            if (first) {
                float sigma = sigma(index);
                NDArray original = clipping.apply(prediction.originalAtLevel(modelOutput, latents, sigma));
                NDArray derivative = latents.sub(original).div(sigma);
                float change = sigma(index + 1) - sigma;
                NDArray predicted = latents.add(derivative.mul(change));
                // the last step, down to σ = 0, has no correction: nothing is kept
                if (index < steps() - 1) {
                    dt = change;
                    keep(derivative, latents.duplicate());
                }
                return predicted;
            }
            float next = sigma(index);
            NDManager scope = latents.getManager();
            NDArray original = clipping.apply(prediction.originalAtLevel(modelOutput, latents, next));
            NDArray derivative = Scopes.borrow(firstDerivative, scope).add(latents.sub(original).div(next)).div(2f);
            NDArray corrected = Scopes.borrow(start, scope).add(derivative.mul(dt));
            keep(null, null);
            dt = Float.NaN;
            return corrected;
        }

        /** Keeps what the correction needs, closing what an earlier step kept. */
        private void keep(NDArray derivative, NDArray latents) {
            for (NDArray kept : new NDArray[] {firstDerivative, start}) {
                if (kept != null) {
                    kept.close();
                }
            }
            firstDerivative = derivative;
            start = latents;
            if (derivative != null) {
                derivative.attach(state);
                latents.attach(state);
            }
        }
    }
}

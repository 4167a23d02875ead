package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Scheduler;
import java.util.Map;
import java.util.Objects;

/**
 * A1111's "DPM++ 3M SDE": k-diffusion's {@code sample_dpmpp_3m_sde} (Katherine Crowson's third-order multistep
 * DPM-Solver++ SDE) on the Euler scheduler's noise levels, as diffusers' discrete schedulers give them. One model
 * evaluation per step; in t = −log σ, with h the step and h_η = (η + 1) h, each step but the last moves to
 * e^(−h_η) x + (1 − e^(−h_η)) x₀, corrects it with the divided differences of the last two x₀ estimates (the second
 * step with the last one only, the first with none), and adds fresh noise of σ_next √(1 − e^(−2ηh)) from the seed; the
 * last step, to σ = 0, returns its x₀ estimate.
 *
 * <p>Settings: {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas}, {@code prediction_type}
 * ({@code epsilon} or {@code v_prediction}), {@code timestep_spacing} (default {@code linspace}),
 * {@code steps_offset}, {@code use_karras_sigmas}, {@code use_exponential_sigmas}, and {@code eta} (η, 0 to 1,
 * default 1 as k-diffusion's; 0 makes the deterministic DPM-Solver++(3M)).
 */
final class DpmSolver3mSdeScheduler extends LogSigmaSampler {
    private static final String NAME = "DPM++ 3M SDE";

    private final float eta;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    DpmSolver3mSdeScheduler(SchedulerSettings settings) {
        super(settings);
        eta = (float) settings.number("eta", 1, 0, 1);
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this : new DpmSolver3mSdeScheduler(settings.override(overrides));
    }

    @Override
    String stochasticName() {
        return eta > 0 ? NAME : null;
    }

    @Override
    Run run(int steps, NDManager state, StepNoise noise) {
        DiscreteSigmas.Levels levels = noiseLevels.levels(steps);
        return new SdeRun(levels, state, noise);
    }

    /**
     * One generation's DPM++ 3M SDE sampling, holding the x₀ estimates of the last two steps (attached to the
     * generation's state manager; the older closed when a newer one replaces it, both after the last step, or with
     * that manager when a generation stops early) and their steps in t. A run begun at a later step (from a picture)
     * starts without history, as k-diffusion's loop over the remaining levels does.
     */
    final class SdeRun extends DiscreteSigmas.SigmaRun {
        private final NDManager state;
        private final StepNoise noise;
        /** x₀ of the previous step and the one before, or null. */
        private NDArray previous;
        private NDArray beforePrevious;
        /** h of the previous step and the one before, or NaN where there is none. */
        private float previousH = Float.NaN;
        private float beforePreviousH = Float.NaN;

        private SdeRun(DiscreteSigmas.Levels levels, NDManager state, StepNoise noise) {
            super(levels.timesteps(), levels.sigmas(), levels.initNoiseSigma());
            this.state = Objects.requireNonNull(state, "state");
            this.noise = noise;
        }

        /**
         * k-diffusion's step in its order of operations, the scalars in float32 as its 0-dim tensors give them.
         *
         * @throws IllegalStateException when steps are not taken in order (the method needs the previous ones)
         */
        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            stepsBefore(index, NAME);
            float sigma = sigma(index);
            float next = sigma(index + 1);
            NDArray original = prediction.originalAtLevel(modelOutput, latents, sigma);
            if (next == 0) {
                remember(null, Float.NaN);
                return original;
            }
            float h = timeOf(next) - timeOf(sigma);
            float hEta = h * (eta + 1);
            NDArray x = latents.mul((float) Math.exp(-hEta)).add(original.mul((float) -Math.expm1(-hEta)));
            NDManager scope = latents.getManager();
            float phi2 = (float) Math.expm1(-hEta) / hEta + 1;
            if (!Float.isNaN(beforePreviousH)) {
                NDArray last = Scopes.borrow(previous, scope);
                NDArray older = Scopes.borrow(beforePrevious, scope);
                float r0 = previousH / h;
                float r1 = beforePreviousH / h;
                NDArray d10 = original.sub(last).div(r0);
                NDArray d11 = last.sub(older).div(r1);
                NDArray d1 = d10.add(d10.sub(d11).mul(r0 / (r0 + r1)));
                NDArray d2 = d10.sub(d11).div(r0 + r1);
                float phi3 = phi2 / hEta - 0.5f;
                x = x.add(d1.mul(phi2)).sub(d2.mul(phi3));
            } else if (!Float.isNaN(previousH)) {
                NDArray d = original.sub(Scopes.borrow(previous, scope)).div(previousH / h);
                x = x.add(d.mul(phi2));
            }
            if (eta > 0) {
                x = x.add(noise.sample(scope, latents.getShape(), index)
                        .mul(next * SchedulerRun.sqrt((float) -Math.expm1(-2 * h * eta))));
            }
            remember(original, h);
            return x;
        }

        /** Shifts the history by a step: {@code original} (null after the last step, which clears it) and its h. */
        private void remember(NDArray original, float h) {
            if (beforePrevious != null) {
                beforePrevious.close();
            }
            if (original == null) {
                if (previous != null) {
                    previous.close();
                }
                previous = null;
                beforePrevious = null;
                return;
            }
            beforePrevious = previous;
            beforePreviousH = previousH;
            original.attach(state);
            previous = original;
            previousH = h;
        }
    }
}

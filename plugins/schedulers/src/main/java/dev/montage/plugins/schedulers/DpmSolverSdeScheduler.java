package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.Scheduler;
import java.util.Map;

/**
 * diffusers' {@code DPMSolverSDEScheduler} (0.23), A1111's "DPM++ SDE": Katherine Crowson's stochastic
 * DPM-Solver++(2S) on the Euler scheduler's noise levels. Each step but the last evaluates the model at its own σ
 * and takes an ancestral DPM-Solver++ step to the midpoint of σ and the next σ in log σ, evaluates the model there
 * and takes the whole step from the start with that estimate, each half adding fresh noise; the last step, down to
 * σ = 0, is an Euler step.
 *
 * <p>The fresh noise is Brownian: diffusers draws it from a torchsde Brownian tree over σ, so that the noise of a
 * step's second half is correlated with its first. Here the same Brownian path is drawn from the generation's
 * {@link Scheduler.StepNoise}: evaluation 2k gives the path's normalised increment from σ_k to the midpoint m_k,
 * evaluation 2k + 1 the one from m_k to σ_{k+1}, and the second half's noise is the normalised increment over the
 * whole step, (√(σ_k − m_k) · z_2k + √(m_k − σ_{k+1}) · z_2k+1) / √(σ_k − σ_{k+1}).
 *
 * <p>N steps take 2N − 1 model evaluations, the second of each step at the midpoint's fractional timestep, as
 * diffusers lists them. Settings: {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas},
 * {@code prediction_type} ({@code epsilon} or {@code v_prediction}), {@code timestep_spacing} (default
 * {@code linspace}), {@code steps_offset}, {@code use_karras_sigmas}.
 */
final class DpmSolverSdeScheduler extends LogSigmaSampler {

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    DpmSolverSdeScheduler(SchedulerSettings settings) {
        super(settings);
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this : new DpmSolverSdeScheduler(settings.override(overrides));
    }

    @Override
    String stochasticName() {
        return "DPM++ SDE";
    }

    /**
     * Per model evaluation: e = 2k is step k's first, at σ_k; e = 2k + 1 its second, at m_k = exp(−(t + (t_next −
     * t)/2)) with t = −log σ_k, in float32 as diffusers' step computes it; its timestep is that of the same midpoint
     * in float64, as diffusers' {@code set_timesteps} computes it.
     */
    @Override
    Run run(int steps, NDManager state, StepNoise noise) {
        DiscreteSigmas.Levels levels = noiseLevels.levels(steps);
        float[] s = levels.sigmas();
        float[] midTimesteps = new float[steps];
        float[] midSigmas = new float[steps];
        for (int k = 0; k < steps - 1; k++) {
            double t = -Math.log(s[k]);
            midTimesteps[k] = (float) noiseLevels.timestepOf(Math.exp(-(t + (-Math.log(s[k + 1]) - t) * 0.5)));
            midSigmas[k] = sigmaOf(midpointTime(s[k], s[k + 1]));
        }
        return new SdeRun(levels, midTimesteps, midSigmas, state, noise);
    }

    /** The midpoint of a step in t, in float32. */
    private static float midpointTime(float sigma, float next) {
        float t = timeOf(sigma);
        return t + (timeOf(next) - t) * 0.5f;
    }

    /** One generation's DPM++ SDE sampling. */
    final class SdeRun extends MidpointRun {
        private final StepNoise noise;

        private SdeRun(DiscreteSigmas.Levels levels, float[] midTimesteps, float[] midSigmas, NDManager state,
                StepNoise noise) {
            super("DPM++ SDE", levels, midTimesteps, midSigmas, state);
            this.noise = noise;
        }

        /**
         * x₀ estimate at σ_k, then from t = −log σ_k to the midpoint time s: with σ_up = min(σ_s, √(σ_s² (σ_k² − σ_s²)
         * / σ_k²)), σ_down = √(σ_s² − σ_up²) and t_d = −log σ_down, x · σ_down / σ_k − expm1(t − t_d) · x₀ + σ_up ·
         * noise. The last step, down to σ = 0, is diffusers' Euler step x + (x − x₀)/σ · (0 − σ).
         */
        @Override
        NDArray first(NDArray modelOutput, int k, NDArray latents) {
            float sigma = level(k);
            NDArray original = prediction.originalAtLevel(modelOutput, latents, sigma);
            if (2 * k == steps() - 1) {
                return latents.add(latents.sub(original).div(sigma).mul(-sigma));
            }
            return ancestral(latents, original, k, true);
        }

        /** x₀ estimate at the midpoint, and the same update from the step's start to σ_{k+1}. */
        @Override
        NDArray second(NDArray modelOutput, int k, NDArray latents, NDArray start) {
            return ancestral(start, prediction.originalAtLevel(modelOutput, latents, sigma(2 * k + 1)), k, false);
        }

        private NDArray ancestral(NDArray x, NDArray original, int k, boolean first) {
            float t = timeOf(level(k));
            float midpoint = midpointTime(level(k), level(k + 1));
            float from = sigmaOf(t);
            float to = sigmaOf(first ? midpoint : timeOf(level(k + 1)));
            float up = Math.min(to, SchedulerRun.sqrt(to * to * (from * from - to * to) / (from * from)));
            float down = SchedulerRun.sqrt(to * to - up * up);
            float ancestral = timeOf(down);
            return x.mul(sigmaOf(ancestral) / from).sub(original.mul((float) Math.expm1(t - ancestral)))
                    .add(brownian(x, k, first, from, sigmaOf(midpoint), to).mul(up));
        }

        /**
         * The normalised Brownian increment from {@code from} to {@code to}: over the first half z_2k, over the whole
         * step that and the second half's z_2k+1, weighted by the square roots of the σ spans they cover.
         */
        private NDArray brownian(NDArray like, int k, boolean first, float from, float midpoint, float to) {
            NDArray firstHalf = noise.sample(like.getManager(), like.getShape(), 2 * k);
            if (first) {
                return firstHalf;
            }
            double whole = Math.sqrt((double) from - to);
            NDArray secondHalf = noise.sample(like.getManager(), like.getShape(), 2 * k + 1);
            return firstHalf.mul((float) (Math.sqrt((double) from - midpoint) / whole))
                    .add(secondHalf.mul((float) (Math.sqrt((double) midpoint - to) / whole)));
        }
    }
}

package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.Scheduler;
import java.util.Map;

/**
 * A1111's "DPM++ 2S a": k-diffusion's {@code sample_dpmpp_2s_ancestral} (Katherine Crowson's ancestral
 * DPM-Solver++(2S)) on the Euler scheduler's noise levels, as diffusers' discrete schedulers give them. Each step but
 * the last goes from σ_k down to the σ_down of the ancestral step to σ_{k+1} (σ_up = min(σ_{k+1}, √(σ_{k+1}² (σ_k² −
 * σ_{k+1}²) / σ_k²)), σ_down = √(σ_{k+1}² − σ_up²)) by DPM-Solver++(2S): it evaluates the model at σ_k, takes half the
 * step in log σ to the midpoint s, evaluates the model there and takes the whole step from the start with that
 * estimate, then adds fresh noise of σ_up drawn from the seed; the last step, down to σ = 0, is an Euler step.
 *
 * <p>N steps take 2N − 1 model evaluations, the second of each step at the midpoint's fractional timestep. Settings:
 * {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas}, {@code prediction_type} ({@code epsilon} or
 * {@code v_prediction}), {@code timestep_spacing}, {@code steps_offset}, {@code use_karras_sigmas}.
 */
final class DpmSolverAncestralScheduler extends LogSigmaSampler {

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    DpmSolverAncestralScheduler(SchedulerSettings settings) {
        super(settings);
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this : new DpmSolverAncestralScheduler(settings.override(overrides));
    }

    @Override
    String stochasticName() {
        return "DPM++ 2S a";
    }

    /**
     * Per model evaluation: e = 2k is step k's first, at σ_k; e = 2k + 1 its second, at σ_s = exp(−s), s the midpoint
     * of −log σ_k and −log σ_down in float32 as k-diffusion computes it, its timestep that σ's on the training
     * schedule.
     */
    @Override
    Run run(int steps, NDManager state, StepNoise noise) {
        DiscreteSigmas.Levels levels = noiseLevels.levels(steps);
        float[] s = levels.sigmas();
        float[] midTimesteps = new float[steps];
        float[] midSigmas = new float[steps];
        for (int k = 0; k < steps - 1; k++) {
            AncestralStep step = AncestralStep.of(s[k], s[k + 1]);
            midSigmas[k] = sigmaOf(step.midpoint());
            midTimesteps[k] = (float) noiseLevels.timestepOf(midSigmas[k]);
        }
        return new AncestralRun(levels, midTimesteps, midSigmas, state, noise);
    }

    /**
     * One step's ancestral split and its times, in float32 as k-diffusion's {@code get_ancestral_step} and sampler
     * compute them.
     *
     * @param t    −log σ_k
     * @param next −log σ_down
     * @param up   σ_up, the deviation of the noise added after the step
     */
    private record AncestralStep(float t, float next, float up) {
        static AncestralStep of(float from, float to) {
            float up = Math.min(to, SchedulerRun.sqrt(to * to * (from * from - to * to) / (from * from)));
            float down = SchedulerRun.sqrt(to * to - up * up);
            return new AncestralStep(timeOf(from), timeOf(down), up);
        }

        float h() {
            return next - t;
        }

        /** s = t + h / 2. */
        float midpoint() {
            return t + 0.5f * h();
        }
    }

    /** One generation's DPM++ 2S a sampling. */
    final class AncestralRun extends MidpointRun {
        private final StepNoise noise;

        private AncestralRun(DiscreteSigmas.Levels levels, float[] midTimesteps, float[] midSigmas, NDManager state,
                StepNoise noise) {
            super("DPM++ 2S a", levels, midTimesteps, midSigmas, state);
            this.noise = noise;
        }

        /**
         * x₀ estimate at σ_k, then the half step to the midpoint: x · σ(s)/σ(t) − expm1(−h/2) · x₀. The last step, down
         * to σ = 0, is k-diffusion's Euler step x + (x − x₀)/σ · (0 − σ).
         */
        @Override
        NDArray first(NDArray modelOutput, int k, NDArray latents) {
            float sigma = level(k);
            NDArray original = prediction.originalAtLevel(modelOutput, latents, sigma);
            if (2 * k == steps() - 1) {
                return latents.add(latents.sub(original).div(sigma).mul(-sigma));
            }
            AncestralStep step = AncestralStep.of(sigma, level(k + 1));
            return latents.mul(sigmaOf(step.midpoint()) / sigmaOf(step.t()))
                    .sub(original.mul((float) Math.expm1(-step.h() * 0.5f)));
        }

        /**
         * x₀ estimate at the midpoint, the whole step from the start with it, x · σ(t_next)/σ(t) − expm1(−h) · x₀, and
         * the step's fresh noise times σ_up.
         */
        @Override
        NDArray second(NDArray modelOutput, int k, NDArray latents, NDArray start) {
            AncestralStep step = AncestralStep.of(level(k), level(k + 1));
            NDArray original = prediction.originalAtLevel(modelOutput, latents, sigma(2 * k + 1));
            NDArray fresh = noise.sample(latents.getManager(), latents.getShape(), 2 * k + 1);
            return start.mul(sigmaOf(step.next()) / sigmaOf(step.t())).sub(original.mul((float) Math.expm1(-step.h())))
                    .add(fresh.mul(step.up()));
        }
    }
}

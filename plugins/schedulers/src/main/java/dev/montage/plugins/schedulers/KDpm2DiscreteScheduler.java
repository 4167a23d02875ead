package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.Scheduler;
import java.util.Map;

/**
 * diffusers' {@code KDPM2DiscreteScheduler} (0.23), A1111's "DPM2": Katherine Crowson's second-order DPM-Solver-2 on
 * the Euler scheduler's noise levels. Each step but the last evaluates the model at its own σ, takes an Euler step to
 * the geometric mean of σ and the next σ, evaluates the model there and takes the whole step from the start with that
 * derivative; the last step, down to σ = 0, is an Euler step. Or, {@link #ancestral}, its
 * {@code KDPM2AncestralDiscreteScheduler} (A1111's "DPM2 a"): the midpoint is that of σ and σ_down, the step goes to
 * σ_down and adds fresh noise of σ_up, drawn from the generation's {@link Scheduler.StepNoise}.
 *
 * <p>N steps take 2N − 1 model evaluations, the second of each step at the midpoint's fractional timestep, as
 * diffusers lists them. Settings: {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas},
 * {@code prediction_type} ({@code epsilon} or {@code v_prediction}), {@code timestep_spacing} (default
 * {@code linspace}), {@code steps_offset}, {@code use_karras_sigmas} (whose timesteps these schedulers round). The
 * midpoints follow torch's float32 {@code lerp} of the logarithms, so the last one is 0.
 */
final class KDpm2DiscreteScheduler extends SometimesStochastic {
    private final SchedulerSettings settings;
    private final boolean ancestral;
    private final DiscreteSigmas noiseLevels;
    private final PredictionType prediction;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    KDpm2DiscreteScheduler(SchedulerSettings settings) {
        this(settings, false);
    }

    private KDpm2DiscreteScheduler(SchedulerSettings settings, boolean ancestral) {
        this.settings = settings;
        this.ancestral = ancestral;
        noiseLevels = new DiscreteSigmas(settings, true, true, NoiseSchedule.ZeroSnr.UNREAD);
        prediction = PredictionType.of(settings);
    }

    /**
     * diffusers' {@code KDPM2AncestralDiscreteScheduler}.
     *
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    static KDpm2DiscreteScheduler ancestral(SchedulerSettings settings) {
        return new KDpm2DiscreteScheduler(settings, true);
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this : new KDpm2DiscreteScheduler(settings.override(overrides), ancestral);
    }

    @Override
    String stochasticName() {
        return ancestral ? "DPM2 ancestral" : null;
    }

    /**
     * Per model evaluation: e = 2k is step k's first, at σ_k; e = 2k + 1 its second, at the midpoint m_k of step k:
     * without noise exp(lerp(log σ_{k+1}, log σ_k, ½)), with noise exp(lerp(log σ_k, log σ_down,k, ½)); the last
     * step's midpoint is 0.
     */
    @Override
    Run run(int steps, NDManager state, StepNoise noise) {
        DiscreteSigmas.Levels levels = noiseLevels.levels(steps);
        float[] s = levels.sigmas();
        float[] up = new float[steps];
        float[] down = new float[steps];
        float[] mid = new float[steps];
        for (int k = 0; k < steps; k++) {
            float next = s[k + 1];
            if (noise == null) {
                mid[k] = k == steps - 1 ? 0f : lerpLogs(next, s[k]);
            } else {
                up[k] = SchedulerRun.sqrt(next * next * (s[k] * s[k] - next * next) / (s[k] * s[k]));
                down[k] = k == steps - 1 ? 0f : SchedulerRun.sqrt(next * next - up[k] * up[k]);
                mid[k] = k == steps - 1 ? 0f : lerpLogs(s[k], down[k]);
            }
        }
        float[] midTimesteps = new float[steps];
        for (int k = 0; k < steps - 1; k++) {
            midTimesteps[k] = (float) noiseLevels.timestepOf(mid[k]);
        }
        return new Dpm2Run(levels, midTimesteps, mid, up, down, state, noise);
    }

    /**
     * torch's float32 {@code start.log().lerp(end.log(), 0.5).exp()}: at weight ½ lerp is end − (end − start) · ½, so
     * an end of σ = 0 gives 0.
     */
    private static float lerpLogs(float start, float end) {
        float from = (float) Math.log(start);
        float to = (float) Math.log(end);
        return (float) Math.exp(to - (to - from) * 0.5f);
    }

    /** One generation's DPM2 sampling. */
    final class Dpm2Run extends MidpointRun {
        private final float[] mid;
        private final float[] up;
        private final float[] down;
        private final StepNoise noise;

        private Dpm2Run(DiscreteSigmas.Levels levels, float[] midTimesteps, float[] mid, float[] up, float[] down,
                NDManager state, StepNoise noise) {
            super("DPM2", levels, midTimesteps, mid, state);
            this.mid = mid;
            this.up = up;
            this.down = down;
            this.noise = noise;
        }

        /** x₀ estimate at σ_k, derivative d = (x − x₀)/σ_k, x + d · (m_k − σ_k). */
        @Override
        NDArray first(NDArray modelOutput, int k, NDArray latents) {
            float sigma = level(k);
            NDArray derivative = latents.sub(prediction.originalAtLevel(modelOutput, latents, sigma)).div(sigma);
            return latents.add(derivative.mul(mid[k] - sigma));
        }

        /**
         * x₀ estimate at m_k on the first's prediction, d̂ = (x̂ − x₀)/m_k, from the step's start x + d̂ · (σ_{k+1} −
         * σ_k), or with noise x + d̂ · (σ_down − σ_k) + noise · σ_up.
         */
        @Override
        NDArray second(NDArray modelOutput, int k, NDArray latents, NDArray start) {
            float at = mid[k];
            NDArray derivative = latents.sub(prediction.originalAtLevel(modelOutput, latents, at)).div(at);
            float target = noise == null ? level(k + 1) : down[k];
            NDArray next = start.add(derivative.mul(target - level(k)));
            if (noise != null) {
                next = next.add(noise.sample(latents.getManager(), latents.getShape(), 2 * k + 1).mul(up[k]));
            }
            return next;
        }
    }
}

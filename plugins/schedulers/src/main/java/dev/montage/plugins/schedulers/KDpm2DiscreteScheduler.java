package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Scheduler;
import java.util.Map;
import java.util.Objects;

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
        noiseLevels = new DiscreteSigmas(settings, true, true);
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
        int evaluations = 2 * steps - 1;
        float[] timesteps = new float[evaluations];
        float[] inputSigmas = new float[evaluations + 1];
        for (int k = 0; k < steps; k++) {
            timesteps[2 * k] = levels.timesteps()[k];
            inputSigmas[2 * k] = s[k];
            if (2 * k + 1 < evaluations) {
                timesteps[2 * k + 1] = (float) noiseLevels.timestepOf(mid[k]);
                inputSigmas[2 * k + 1] = mid[k];
            }
        }
        return new Dpm2Run(timesteps, inputSigmas, levels.initNoiseSigma(), s, mid, up, down, state, noise);
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

    /**
     * One generation's DPM2 sampling. Between the two evaluations of a step it keeps the latents the step started
     * from, attached to the generation's state manager (closed by the second evaluation, or with that manager when a
     * generation stops early); the last step keeps nothing.
     */
    final class Dpm2Run extends DiscreteSigmas.SigmaRun {
        private final float[] levels;
        private final float[] mid;
        private final float[] up;
        private final float[] down;
        private final NDManager state;
        private final StepNoise noise;
        private NDArray start;

        private Dpm2Run(float[] timesteps, float[] inputSigmas, float initNoiseSigma, float[] levels, float[] mid,
                float[] up, float[] down, NDManager state, StepNoise noise) {
            super(timesteps, inputSigmas, initNoiseSigma);
            this.levels = levels;
            this.mid = mid;
            this.up = up;
            this.down = down;
            this.state = Objects.requireNonNull(state, "state");
            this.noise = noise;
        }

        /**
         * The first evaluation of step k: x₀ estimate at σ_k, derivative d = (x − x₀)/σ_k, x + d · (m_k − σ_k). The
         * second: x₀ estimate at m_k on that, d̂ = (x̂ − x₀)/m_k, from the step's start x + d̂ · (σ_{k+1} − σ_k), or
         * with noise x + d̂ · (σ_down − σ_k) + noise · σ_up.
         *
         * @throws IllegalStateException when evaluations are not taken in order
         */
        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            int k = index / 2;
            boolean first = index % 2 == 0;
            SchedulerRun.checkEvaluationOrder("DPM2", index, first, start != null);
            if (first) {
                float sigma = levels[k];
                NDArray derivative = latents.sub(prediction.originalAtLevel(modelOutput, latents, sigma)).div(sigma);
                NDArray predicted = latents.add(derivative.mul(mid[k] - sigma));
                if (index < steps() - 1) {
                    start = latents.duplicate();
                    start.attach(state);
                }
                return predicted;
            }
            float at = mid[k];
            NDArray derivative = latents.sub(prediction.originalAtLevel(modelOutput, latents, at)).div(at);
            float target = noise == null ? levels[k + 1] : down[k];
            NDArray next = Scopes.borrow(start, latents.getManager()).add(derivative.mul(target - levels[k]));
            if (noise != null) {
                next = next.add(noise.sample(latents.getManager(), latents.getShape(), index).mul(up[k]));
            }
            start.close();
            start = null;
            return next;
        }
    }
}

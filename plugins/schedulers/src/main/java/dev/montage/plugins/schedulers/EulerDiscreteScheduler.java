package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.Scheduler;
import java.util.Map;

/**
 * diffusers' {@code EulerDiscreteScheduler} (0.23), SDXL's default: Euler steps of the probability-flow ODE in
 * σ, with the model input scaled by 1/√(σ² + 1); or, {@link #ancestral}, its {@code EulerAncestralDiscreteScheduler}
 * (A1111's "Euler a"): each step goes down to σ_down and adds fresh noise of σ_up, drawn from the generation's
 * {@link Scheduler.StepNoise}; or, {@link #ancestralKarras}, those ancestral steps on the discrete scheduler's Karras
 * levels, as k-diffusion's {@code sample_euler_ancestral} takes them on Karras sigmas (A1111's "Euler a" with the
 * Karras schedule), which diffusers' ancestral scheduler does not offer.
 *
 * <p>The discrete scheduler's deterministic path alone exists: diffusers' {@code s_churn} (default 0) would add fresh
 * noise before a step, so {@code s_churn}, {@code s_tmin}, {@code s_tmax} and {@code s_noise} have no counterpart.
 * Settings: {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas}, {@code prediction_type}
 * ({@code epsilon} or {@code v_prediction}), {@code timestep_spacing} (default {@code linspace}),
 * {@code steps_offset}; the discrete one also {@code interpolation_type} ({@code linear} only) and
 * {@code use_karras_sigmas}, which of the ancestral ones only the Karras one reads. The step noise is float32, so an
 * ancestral step gives float32 latents whatever its inputs' dtype (the host keeps its latents in float32).
 */
final class EulerDiscreteScheduler extends SometimesStochastic {
    private final SchedulerSettings settings;
    private final boolean ancestral;
    private final boolean readsKarras;
    private final DiscreteSigmas noiseLevels;
    private final PredictionType prediction;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    EulerDiscreteScheduler(SchedulerSettings settings) {
        this(settings, false, true);
    }

    /** @param readsKarras whether {@code use_karras_sigmas} is read */
    private EulerDiscreteScheduler(SchedulerSettings settings, boolean ancestral, boolean readsKarras) {
        this.settings = settings;
        this.ancestral = ancestral;
        this.readsKarras = readsKarras;
        // diffusers' ancestral scheduler has neither setting: the scheduler file's values are the discrete one's
        noiseLevels = new DiscreteSigmas(settings, readsKarras, false, NoiseSchedule.ZeroSnr.RESCALED_CLAMPED);
        prediction = PredictionType.of(settings);
        String interpolation = ancestral ? "linear" : settings.choice("interpolation_type", "linear",
                SchedulerOptions.INTERPOLATION_TYPE.choices());
        if (interpolation.equals("log_linear")) {
            throw settings.unsupported("interpolation_type", "only linear interpolation of the training σ exists");
        }
    }

    /**
     * diffusers' {@code EulerAncestralDiscreteScheduler}: the same timesteps and σ as the discrete scheduler without
     * Karras sigmas, each step adding fresh noise.
     *
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    static EulerDiscreteScheduler ancestral(SchedulerSettings settings) {
        return new EulerDiscreteScheduler(settings, true, false);
    }

    /**
     * The ancestral steps on the levels of the discrete scheduler with its {@code use_karras_sigmas} (which the
     * factory sets): the same timesteps and σ as {@code euler-karras}.
     *
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    static EulerDiscreteScheduler ancestralKarras(SchedulerSettings settings) {
        return new EulerDiscreteScheduler(settings, true, true);
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this
                : new EulerDiscreteScheduler(settings.override(overrides), ancestral, readsKarras);
    }

    @Override
    String stochasticName() {
        return ancestral ? "the Euler ancestral scheduler" : null;
    }

    /** @param noise the step noise of an ancestral run, null for a deterministic one */
    @Override
    Run run(int steps, NDManager state, StepNoise noise) {
        DiscreteSigmas.Levels levels = noiseLevels.levels(steps);
        return new EulerRun(levels.timesteps(), levels.sigmas(), levels.initNoiseSigma(), prediction, noise);
    }

    /** One generation's Euler sampling: stateless between steps (the step noise is drawn per step, not kept). */
    static final class EulerRun extends DiscreteSigmas.SigmaRun {
        private final PredictionType prediction;
        private final StepNoise noise;

        private EulerRun(float[] timesteps, float[] sigmas, float initNoiseSigma, PredictionType prediction,
                StepNoise noise) {
            super(timesteps, sigmas, initNoiseSigma);
            this.prediction = prediction;
            this.noise = noise;
        }

        /**
         * Diffusers' sequence: x₀ estimate, derivative (x − x₀)/σ, then x + derivative · (σ_next − σ); ancestral:
         * x + derivative · (σ_down − σ) + noise · σ_up, with σ_up = √(σ_next² (σ² − σ_next²) / σ²) and
         * σ_down = √(σ_next² − σ_up²) in float32 as diffusers computes them (σ_up = 0 at the last step).
         */
        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            float sigma = sigma(index);
            NDArray original = prediction.originalAtLevel(modelOutput, latents, sigma);
            NDArray derivative = latents.sub(original).div(sigma);
            float next = sigma(index + 1);
            if (noise == null) {
                return latents.add(derivative.mul(next - sigma));
            }
            float from = sigma * sigma;
            float to = next * next;
            float up = sqrt(to * (from - to) / from);
            float down = sqrt(to - up * up);
            NDArray stepped = latents.add(derivative.mul(down - sigma));
            return up == 0 ? stepped : stepped.add(noise.sample(latents.getManager(), latents.getShape(), index)
                    .mul(up));
        }
    }
}

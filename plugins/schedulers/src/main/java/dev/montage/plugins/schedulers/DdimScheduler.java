package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.Scheduler;
import java.util.Map;

/**
 * diffusers' {@code DDIMScheduler} (0.23), the DDIM of Song et al.: from the x₀ and ε estimates at ᾱ_t,
 * x_prev = √ᾱ_prev · x₀ + √(1 − ᾱ_prev − σ_t²) · ε + σ_t · noise, with σ_t = η · √((1 − ᾱ_prev) / (1 − ᾱ_t)
 * · (1 − ᾱ_t / ᾱ_prev)). The setting {@code eta} is the η diffusers' pipelines take as a call argument: 0 (the
 * default) is deterministic, 1 is as stochastic as DDPM; above 0 the noise is the generation's step noise.
 *
 * <p>As in diffusers, the previous timestep is always {@code t - num_train_timesteps / steps} (integer
 * division), whatever the spacing, and below 0 it is the "final" ᾱ: 1 with {@code set_alpha_to_one}, else
 * ᾱ₀ (SDXL). The model input is not scaled and the initial noise σ is 1. Settings: {@code num_train_timesteps},
 * {@code beta_*}, {@code trained_betas}, {@code prediction_type}, {@code clip_sample} (default true, as in
 * diffusers) with {@code clip_sample_range}, {@code set_alpha_to_one} (default true), {@code steps_offset},
 * {@code timestep_spacing} (default {@code leading}), {@code eta} (0..1), {@code rescale_betas_zero_snr} (with
 * {@code v_prediction}); {@code thresholding} must be false.
 */
final class DdimScheduler extends SometimesStochastic {
    private final SchedulerSettings settings;
    private final NoiseSchedule schedule;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final PredictionType prediction;
    private final SampleClipping clipping;
    private final float finalAlphaCumprod;
    private final float eta;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    DdimScheduler(SchedulerSettings settings) {
        this.settings = settings;
        schedule = NoiseSchedule.of(settings, NoiseSchedule.ZeroSnr.RESCALED);
        spacing = TimestepSpacing.of(settings, TimestepSpacing.LEADING);
        stepsOffset = settings.integer("steps_offset", 0);
        prediction = PredictionType.of(settings);
        clipping = SampleClipping.of(settings, true);
        finalAlphaCumprod = settings.flag("set_alpha_to_one", true) ? 1f : schedule.alphaCumprod(0);
        eta = (float) settings.number("eta", 0, 0, 1);
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this : new DdimScheduler(settings.override(overrides));
    }

    @Override
    String stochasticName() {
        return eta > 0 ? "DDIM with eta " + eta : null;
    }

    /** @param noise the step noise where η > 0, else null */
    @Override
    Run run(int steps, NDManager state, StepNoise noise) {
        schedule.checkSteps(steps);
        int n = schedule.trainSteps();
        int[] timesteps = new int[steps];
        switch (spacing) {
            case LINSPACE -> {
                double[] values = NumpyMath.linspace(0, n - 1, steps);
                for (int i = 0; i < steps; i++) {
                    timesteps[i] = (int) NumpyMath.round(values[steps - 1 - i]);
                }
            }
            case LEADING -> {
                int ratio = n / steps;
                for (int i = 0; i < steps; i++) {
                    timesteps[i] = (steps - 1 - i) * ratio + stepsOffset;
                }
            }
            case TRAILING -> {
                // as for Euler, numpy's surplus last value (e.g. for 61 steps) is dropped
                double[] values = NumpyMath.arange(n, 0, -(double) n / steps);
                for (int i = 0; i < steps; i++) {
                    timesteps[i] = (int) NumpyMath.round(values[i]) - 1;
                }
            }
        }
        for (int t : timesteps) {
            if (t < 0 || t >= n) {
                throw new IllegalArgumentException("DDIM timestep " + t + " for " + steps + " steps is outside the "
                        + n + " training timesteps (check steps_offset = " + stepsOffset + ")");
            }
        }
        return new DdimRun(timesteps, n / steps, noise);
    }

    /** One generation's DDIM sampling: stateless between steps (the step noise is drawn per step, not kept). */
    private final class DdimRun extends SchedulerRun {
        private final int[] timesteps;
        private final int stride;
        private final StepNoise noise;

        private DdimRun(int[] timesteps, int stride, StepNoise noise) {
            super(toFloats(timesteps), 1f);
            this.timesteps = timesteps;
            this.stride = stride;
            this.noise = noise;
        }

        @Override
        NDArray noised(NDArray original, NDArray noise, int index) {
            return noisedTo(original, noise, schedule.alphaCumprod(timesteps[index]));
        }

        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            int t = timesteps[index];
            int previous = t - stride;
            float alpha = schedule.alphaCumprod(t);
            float alphaPrevious = previous >= 0 ? schedule.alphaCumprod(previous) : finalAlphaCumprod;
            float beta = 1f - alpha;
            NDArray original = clipping.apply(prediction.original(modelOutput, latents, sqrt(alpha), sqrt(beta)));
            NDArray epsilon = prediction.epsilon(modelOutput, latents, sqrt(alpha), sqrt(beta));
            // σ_t in float32 in diffusers' order; 0 without noise
            float deviation = noise == null ? 0f
                    : eta * sqrt((1f - alphaPrevious) / beta * (1f - alpha / alphaPrevious));
            NDArray direction = epsilon.mul(sqrt(1f - alphaPrevious - deviation * deviation));
            NDArray previousSample = original.mul(sqrt(alphaPrevious)).add(direction);
            return deviation == 0 ? previousSample
                    : previousSample.add(noise.sample(latents.getManager(), latents.getShape(), index).mul(deviation));
        }
    }
}

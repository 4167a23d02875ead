package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.Scheduler;
import java.util.Map;

/**
 * diffusers' {@code DDIMScheduler} (0.23) with η = 0, the deterministic DDIM of Song et al.: from the x₀ and ε
 * estimates at ᾱ_t, x_prev = √ᾱ_prev · x₀ + √(1 − ᾱ_prev) · ε.
 *
 * <p>As in diffusers, the previous timestep is always {@code t - num_train_timesteps / steps} (integer
 * division), whatever the spacing, and below 0 it is the "final" ᾱ: 1 with {@code set_alpha_to_one}, else
 * ᾱ₀ (SDXL). The model input is not scaled and the initial noise σ is 1. Settings: {@code num_train_timesteps},
 * {@code beta_*}, {@code trained_betas}, {@code prediction_type}, {@code clip_sample} (default true, as in
 * diffusers) with {@code clip_sample_range}, {@code set_alpha_to_one} (default true), {@code steps_offset},
 * {@code timestep_spacing} (default {@code leading}); {@code thresholding} and
 * {@code rescale_betas_zero_snr} must be false.
 */
final class DdimScheduler implements Scheduler {
    private final SchedulerSettings settings;
    private final NoiseSchedule schedule;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final PredictionType prediction;
    private final boolean clipSample;
    private final float clipRange;
    private final float finalAlphaCumprod;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    DdimScheduler(SchedulerSettings settings) {
        this.settings = settings;
        schedule = NoiseSchedule.of(settings);
        spacing = TimestepSpacing.of(settings, TimestepSpacing.LEADING);
        stepsOffset = settings.integer("steps_offset", 0);
        prediction = PredictionType.of(settings);
        clipSample = settings.flag("clip_sample", true);
        clipRange = (float) settings.number("clip_sample_range", 1.0);
        finalAlphaCumprod = settings.flag("set_alpha_to_one", true) ? 1f : schedule.alphaCumprod(0);
        if (settings.flag("thresholding", false)) {
            throw settings.unsupported("thresholding", "dynamic thresholding is not implemented");
        }
        if (settings.flag("rescale_betas_zero_snr", false)) {
            throw settings.unsupported("rescale_betas_zero_snr", "zero terminal SNR rescaling is not implemented");
        }
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this : new DdimScheduler(settings.with("scheduler override", overrides));
    }

    @Override
    public Run start(int steps, NDManager state) {
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
        return new DdimRun(timesteps, n / steps);
    }

    /** One generation's DDIM sampling: stateless between steps. */
    private final class DdimRun extends SchedulerRun {
        private final int[] timesteps;
        private final int stride;

        private DdimRun(int[] timesteps, int stride) {
            super(toFloats(timesteps), 1f);
            this.timesteps = timesteps;
            this.stride = stride;
        }

        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            int t = timesteps[index];
            int previous = t - stride;
            float alpha = schedule.alphaCumprod(t);
            float alphaPrevious = previous >= 0 ? schedule.alphaCumprod(previous) : finalAlphaCumprod;
            float beta = 1f - alpha;
            NDArray original = switch (prediction) {
                case EPSILON -> latents.sub(modelOutput.mul(sqrt(beta))).div(sqrt(alpha));
                case V_PREDICTION -> latents.mul(sqrt(alpha)).sub(modelOutput.mul(sqrt(beta)));
            };
            NDArray epsilon = switch (prediction) {
                case EPSILON -> modelOutput;
                case V_PREDICTION -> modelOutput.mul(sqrt(alpha)).add(latents.mul(sqrt(beta)));
            };
            if (clipSample) {
                original = original.clip(-clipRange, clipRange);
            }
            NDArray direction = epsilon.mul(sqrt(1f - alphaPrevious));
            return original.mul(sqrt(alphaPrevious)).add(direction);
        }
    }
}

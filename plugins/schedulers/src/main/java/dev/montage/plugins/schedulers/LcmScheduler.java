package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.Scheduler;
import java.util.Map;
import java.util.Objects;

/**
 * diffusers' {@code LCMScheduler} (0.23), the multistep sampling of latent consistency models (Luo et al.) and of
 * SDXL with an LCM-LoRA: each step maps the latents to the consistency function's x₀ estimate, c_skip · x + c_out ·
 * x̂₀, then noises it back to the next timestep with fresh noise, √ᾱ_next · x₀ + √(1 − ᾱ_next) · noise; the last
 * step returns the estimate itself.
 *
 * <p>The timesteps are taken, evenly by index from the noisiest, from the {@code original_inference_steps} the model
 * was distilled on: 1000 / 50 apart by default, so 4 steps are 999, 759, 519, 279 ({@code timestep_spacing} and
 * {@code steps_offset} are not read, as in diffusers). With s = t · {@code timestep_scaling} and σ_data = 0.5,
 * c_skip = σ_data² / (s² + σ_data²) and c_out = s / √(s² + σ_data²). Settings: {@code num_train_timesteps},
 * {@code beta_*}, {@code trained_betas}, {@code prediction_type}, {@code original_inference_steps} (50),
 * {@code timestep_scaling} (10), {@code clip_sample} (default false) with {@code clip_sample_range};
 * {@code thresholding} and {@code rescale_betas_zero_snr} must be false.
 */
final class LcmScheduler implements Scheduler {
    private static final float SIGMA_DATA = 0.5f;

    private final SchedulerSettings settings;
    private final NoiseSchedule schedule;
    private final PredictionType prediction;
    private final int originalSteps;
    private final float timestepScaling;
    private final SampleClipping clipping;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    LcmScheduler(SchedulerSettings settings) {
        this.settings = settings;
        schedule = NoiseSchedule.of(settings, NoiseSchedule.ZeroSnr.RESCALED);
        prediction = PredictionType.of(settings);
        originalSteps = settings.integer("original_inference_steps", 50, 1, schedule.trainSteps());
        double scaling = settings.number("timestep_scaling", 10);
        if (!(scaling > 0 && Double.isFinite(scaling))) {
            throw settings.invalid("timestep_scaling", "a positive number");
        }
        timestepScaling = (float) scaling;
        clipping = SampleClipping.of(settings, false);
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this : new LcmScheduler(settings.override(overrides));
    }

    @Override
    public Run start(int steps, NDManager state) {
        throw SchedulerRun.withoutStepNoise("the LCM scheduler");
    }

    @Override
    public Run start(int steps, NDManager state, StepNoise noise) {
        Objects.requireNonNull(noise, "noise");
        schedule.checkSteps(steps);
        if (steps > originalSteps) {
            throw new IllegalArgumentException("the LCM scheduler takes at most original_inference_steps ("
                    + originalSteps + ") steps, the schedule the model was distilled on; got " + steps);
        }
        int stride = schedule.trainSteps() / originalSteps;
        int skip = originalSteps / steps;
        int[] timesteps = new int[steps];
        for (int i = 0; i < steps; i++) {
            timesteps[i] = (originalSteps - i * skip) * stride - 1;
        }
        return new LcmRun(timesteps, noise);
    }

    /** One generation's LCM sampling: stateless between steps (the step noise is drawn per step, not kept). */
    private final class LcmRun extends SchedulerRun {
        private final int[] timesteps;
        private final StepNoise noise;

        private LcmRun(int[] timesteps, StepNoise noise) {
            super(toFloats(timesteps), 1f);
            this.timesteps = timesteps;
            this.noise = noise;
        }

        @Override
        NDArray noised(NDArray original, NDArray noise, int index) {
            return noisedTo(original, noise, schedule.alphaCumprod(timesteps[index]));
        }

        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            int t = timesteps[index];
            float alpha = schedule.alphaCumprod(t);
            // in float32, as torch computes them from the integer timestep times a Python float
            float scaled = t * timestepScaling;
            float denominator = scaled * scaled + SIGMA_DATA * SIGMA_DATA;
            float skipScale = SIGMA_DATA * SIGMA_DATA / denominator;
            float outScale = scaled / sqrt(denominator);
            NDArray original = clipping.apply(prediction.original(modelOutput, latents, sqrt(alpha),
                    sqrt(1f - alpha)));
            NDArray denoised = original.mul(outScale).add(latents.mul(skipScale));
            if (index == steps() - 1) {
                return denoised;
            }
            float next = schedule.alphaCumprod(timesteps[index + 1]);
            return denoised.mul(sqrt(next)).add(noise.sample(latents.getManager(), latents.getShape(), index)
                    .mul(sqrt(1f - next)));
        }
    }
}

package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.Scheduler;
import java.util.Map;

/**
 * diffusers' {@code EulerDiscreteScheduler} (0.23), SDXL's default: Euler steps of the probability-flow ODE in
 * σ, with the model input scaled by 1/√(σ² + 1).
 *
 * <p>Only the deterministic path exists: diffusers' {@code s_churn} (default 0) would add fresh noise before a
 * step, so {@code s_churn}, {@code s_tmin}, {@code s_tmax} and {@code s_noise} have no counterpart. Settings:
 * {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas}, {@code prediction_type} ({@code epsilon}
 * or {@code v_prediction}), {@code interpolation_type} ({@code linear} only), {@code use_karras_sigmas},
 * {@code timestep_spacing} (default {@code linspace}), {@code steps_offset}.
 */
final class EulerDiscreteScheduler implements Scheduler {
    private final SchedulerSettings settings;
    private final NoiseSchedule schedule;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final PredictionType prediction;
    private final boolean karras;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    EulerDiscreteScheduler(SchedulerSettings settings) {
        this.settings = settings;
        schedule = NoiseSchedule.of(settings);
        spacing = TimestepSpacing.of(settings, TimestepSpacing.LINSPACE);
        stepsOffset = settings.integer("steps_offset", 0);
        prediction = PredictionType.of(settings);
        karras = settings.flag("use_karras_sigmas", false);
        String interpolation = settings.choice("interpolation_type", "linear",
                SchedulerOptions.INTERPOLATION_TYPE.choices());
        if (interpolation.equals("log_linear")) {
            throw settings.unsupported("interpolation_type", "only linear interpolation of the training σ exists");
        }
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this
                : new EulerDiscreteScheduler(settings.with("scheduler override", overrides));
    }

    /**
     * The timesteps of {@code set_timesteps}; the σ at each is interpolated from the training σ (or, with
     * Karras sigmas, the σ come first and the fractional timesteps are derived from them), followed by σ = 0.
     */
    @Override
    public Run start(int steps, NDManager state) {
        schedule.checkSteps(steps);
        double[] timesteps = timesteps(steps);
        double[] sigmas = new double[steps];
        for (int i = 0; i < steps; i++) {
            sigmas[i] = schedule.interpolateSigma(timesteps[i]);
        }
        if (karras) {
            sigmas = NoiseSchedule.karras(sigmas[0], sigmas[steps - 1], steps);
            for (int i = 0; i < steps; i++) {
                timesteps[i] = schedule.sigmaToTimestep(sigmas[i]);
            }
        }
        float[] t = new float[steps];
        float[] s = new float[steps + 1];
        float max = 0;
        for (int i = 0; i < steps; i++) {
            t[i] = (float) timesteps[i];
            s[i] = (float) sigmas[i];
            max = Math.max(max, s[i]);
        }
        // diffusers: max σ for linspace/trailing spacing, else √(max σ² + 1)
        float initNoiseSigma = spacing == TimestepSpacing.LEADING ? SchedulerRun.sqrt(max * max + 1f) : max;
        return new EulerRun(t, s, initNoiseSigma, prediction);
    }

    /** The timesteps as float32 values (widened), highest first. */
    private double[] timesteps(int steps) {
        int n = schedule.trainSteps();
        double[] out = new double[steps];
        switch (spacing) {
            case LINSPACE -> {
                double[] values = NumpyMath.linspace(0, n - 1, steps);
                for (int i = 0; i < steps; i++) {
                    out[i] = (float) values[steps - 1 - i];
                }
            }
            case LEADING -> {
                int ratio = n / steps;
                for (int i = 0; i < steps; i++) {
                    out[i] = (float) ((steps - 1 - i) * ratio) + (float) stepsOffset;
                }
            }
            case TRAILING -> {
                // numpy's arange gives one value too many for some step counts (e.g. 61); that surplus
                // timestep (-1) is dropped
                double[] values = NumpyMath.arange(n, 0, -(double) n / steps);
                for (int i = 0; i < steps; i++) {
                    out[i] = (float) NumpyMath.round(values[i]) - 1f;
                }
            }
        }
        return out;
    }

    /** One generation's Euler sampling: stateless between steps. */
    static final class EulerRun extends SchedulerRun {
        private final float[] sigmas;
        private final PredictionType prediction;

        private EulerRun(float[] timesteps, float[] sigmas, float initNoiseSigma, PredictionType prediction) {
            super(timesteps, initNoiseSigma);
            this.sigmas = sigmas;
            this.prediction = prediction;
        }

        /** The σ of each step, and 0 after the last. */
        float[] sigmas() {
            return sigmas.clone();
        }

        @Override
        public NDArray scaleModelInput(NDArray latents, int index) {
            float sigma = sigmas[checkIndex(index)];
            return latents.div(sqrt(sigma * sigma + 1f));
        }

        /** Diffusers' sequence: x₀ estimate, derivative (x − x₀)/σ, then x + derivative · (σ_next − σ). */
        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            float sigma = sigmas[index];
            NDArray original = switch (prediction) {
                case EPSILON -> latents.sub(modelOutput.mul(sigma));
                case V_PREDICTION -> modelOutput.mul(-sigma / sqrt(sigma * sigma + 1f))
                        .add(latents.div(sigma * sigma + 1f));
            };
            NDArray derivative = latents.sub(original).div(sigma);
            return latents.add(derivative.mul(sigmas[index + 1] - sigma));
        }
    }
}

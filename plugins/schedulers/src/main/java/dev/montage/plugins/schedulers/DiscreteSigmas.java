package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;

/**
 * The noise levels of diffusers' σ-parametrised discrete schedulers (0.23: Euler, Euler ancestral, Heun), which
 * share their {@code set_timesteps}: the timesteps of the spacing, the σ at each interpolated from the training σ (or,
 * with Karras, exponential or beta sigmas, the σ first and the fractional timesteps derived from them), followed by
 * σ = 0.
 */
final class DiscreteSigmas {

    /**
     * One run's levels.
     *
     * @param timesteps      the timesteps, highest first
     * @param sigmas         the σ at each, and 0 after the last
     * @param initNoiseSigma the standard deviation of the starting noise
     */
    record Levels(float[] timesteps, float[] sigmas, float initNoiseSigma) {
    }

    /**
     * A run on such levels: the model sees the latents scaled by 1/√(σ² + 1) (diffusers' {@code scale_model_input}).
     */
    abstract static class SigmaRun extends SchedulerRun {
        private final float[] sigmas;

        /** @param sigmas the σ of each model evaluation, and 0 after the last */
        SigmaRun(float[] timesteps, float[] sigmas, float initNoiseSigma) {
            super(timesteps, initNoiseSigma);
            this.sigmas = sigmas;
        }

        /** The σ of each model evaluation, and 0 after the last. */
        final float[] sigmas() {
            return sigmas.clone();
        }

        /** The σ at an index (the one after the last evaluation is 0). */
        final float sigma(int index) {
            return sigmas[index];
        }

        /** diffusers' {@code add_noise} of the σ-parametrised schedulers: x₀ + σ · ε at the evaluation's σ. */
        @Override
        NDArray noised(NDArray original, NDArray noise, int index) {
            return original.add(noise.mul(sigmas[index]));
        }

        @Override
        public final NDArray scaleModelInput(NDArray latents, int index) {
            float sigma = sigmas[checkIndex(index)];
            return latents.div(sqrt(sigma * sigma + 1f));
        }
    }

    private final NoiseSchedule schedule;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final SigmaConversion conversion;
    private final boolean roundKarrasTimesteps;

    /**
     * The levels the settings give: the noise schedule, {@code timestep_spacing} (default {@code linspace}),
     * {@code steps_offset}, and the settings that convert the levels ({@link SigmaConversion}) where the scheduler has
     * them.
     *
     * @param withKarras whether the scheduler reads the settings of {@link SigmaConversion} (Euler ancestral does not)
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    DiscreteSigmas(SchedulerSettings settings, boolean withKarras) {
        this(settings, withKarras, false, NoiseSchedule.ZeroSnr.UNREAD);
    }

    /**
     * @param roundKarrasTimesteps whether Karras sigmas' timesteps are rounded to whole ones (the DPM2 schedulers)
     * @param zeroSnr              how the scheduler takes {@code rescale_betas_zero_snr}
     */
    DiscreteSigmas(SchedulerSettings settings, boolean withKarras, boolean roundKarrasTimesteps,
            NoiseSchedule.ZeroSnr zeroSnr) {
        schedule = NoiseSchedule.of(settings, zeroSnr);
        spacing = TimestepSpacing.of(settings, TimestepSpacing.LINSPACE);
        stepsOffset = settings.integer("steps_offset", 0);
        conversion = SigmaConversion.of(settings, withKarras);
        this.roundKarrasTimesteps = roundKarrasTimesteps;
    }

    /** The training timestep of a noise level σ, fractional (diffusers' {@code _sigma_to_t}). */
    double timestepOf(double sigma) {
        return schedule.sigmaToTimestep(sigma);
    }

    /**
     * The levels of a run of {@code steps} steps.
     *
     * @throws IllegalArgumentException when {@code steps} is outside what the training schedule allows
     */
    Levels levels(int steps) {
        schedule.checkSteps(steps);
        double[] timesteps = timesteps(steps);
        double[] sigmas = new double[steps];
        for (int i = 0; i < steps; i++) {
            sigmas[i] = schedule.interpolateSigma(timesteps[i]);
        }
        if (conversion != SigmaConversion.NONE) {
            sigmas = conversion.levels(sigmas[0], sigmas[steps - 1], steps);
            // diffusers rounds the DPM2 schedulers' Karras timesteps only, never exponential or beta ones
            boolean round = roundKarrasTimesteps && conversion == SigmaConversion.KARRAS;
            for (int i = 0; i < steps; i++) {
                double t = schedule.sigmaToTimestep(sigmas[i]);
                timesteps[i] = round ? NumpyMath.round(t) : t;
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
        return new Levels(t, s, spacing == TimestepSpacing.LEADING ? SchedulerRun.sqrt(max * max + 1f) : max);
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
}

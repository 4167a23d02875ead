package dev.montage.plugins.schedulers;

import java.util.Locale;

/**
 * How a σ-parametrised scheduler turns its noise levels into those of a run: it keeps the training schedule's, or
 * spreads {@code steps} new levels between the highest and the lowest, evenly in σ^(1/7) ({@code use_karras_sigmas},
 * Karras et al. 2022), in log σ ({@code use_exponential_sigmas}, k-diffusion's exponential schedule, A1111's
 * "Exponential" schedule type) or at the quantiles of a Beta(0.6, 0.6) distribution ({@code use_beta_sigmas}, Lee et
 * al. 2024, A1111's "Beta"), as diffusers' {@code _convert_to_karras}, {@code _convert_to_exponential} and
 * {@code _convert_to_beta} do; evenly in arctan σ ({@code use_kl_optimal_sigmas}, the KL-optimal schedule of Sabour
 * et al. 2024 as ComfyUI's {@code kl_optimal} scheduler spaces it); or takes NVIDIA's Align Your Steps levels for SDXL
 * ({@code use_align_your_steps_sigmas}, Sabour et al. 2024), interpolated to the run's steps as A1111's "Align Your
 * Steps" schedule type does.
 */
enum SigmaConversion {
    /** The training schedule's levels at the spacing's timesteps. */
    NONE,
    /** Evenly spaced in σ^(1/ρ), ρ = 7. */
    KARRAS,
    /** Evenly spaced in log σ. */
    EXPONENTIAL,
    /** σ_min + q · (σ_max − σ_min) at the Beta(0.6, 0.6) quantiles q of 1 − linspace(0, 1, steps). */
    BETA,
    /** Evenly spaced in arctan σ: ComfyUI's {@code kl_optimal_scheduler}. */
    KL_OPTIMAL,
    /**
     * The SDXL levels of Align Your Steps, log-linearly interpolated to the steps (A1111's {@code loglinear_interp});
     * they span SDXL's own σ range, whatever the spacing's ends.
     */
    ALIGN_YOUR_STEPS;

    /**
     * NVIDIA's 10-step Align Your Steps schedule for SDXL, its last level before 0, as A1111 and diffusers'
     * {@code AysSchedules["StableDiffusionXLSigmaLevels"]} carry it.
     */
    private static final double[] AYS_SDXL = {14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113,
        0.029};

    /** The parameters diffusers' {@code _convert_to_beta} is called with (A1111's defaults too). */
    private static final double BETA_ALPHA = 0.6;
    private static final double BETA_BETA = 0.6;

    /**
     * The conversion the settings ask for.
     *
     * @param reads whether the scheduler reads {@code use_karras_sigmas}, {@code use_exponential_sigmas},
     *              {@code use_beta_sigmas}, {@code use_kl_optimal_sigmas} and {@code use_align_your_steps_sigmas}
     * @throws IllegalArgumentException when more than one is true (diffusers allows one)
     */
    static SigmaConversion of(SchedulerSettings settings, boolean reads) {
        if (!reads) {
            return NONE;
        }
        SigmaConversion chosen = NONE;
        for (SigmaConversion c : new SigmaConversion[] {KARRAS, EXPONENTIAL, BETA, KL_OPTIMAL, ALIGN_YOUR_STEPS}) {
            if (settings.flag(c.setting(), false)) {
                if (chosen != NONE) {
                    throw settings.unsupported(c.setting(), chosen.setting() + " is true too, and a run has one "
                            + "schedule of noise levels, as in diffusers");
                }
                chosen = c;
            }
        }
        return chosen;
    }

    /** The setting that asks for this conversion. */
    String setting() {
        return "use_" + name().toLowerCase(Locale.ROOT) + "_sigmas";
    }

    /**
     * {@code steps} levels from {@code sigmaMax} down to {@code sigmaMin}, in float64 as diffusers computes them.
     *
     * @throws IllegalStateException for {@link #NONE}, which makes no new levels
     */
    double[] levels(double sigmaMax, double sigmaMin, int steps) {
        return switch (this) {
            case KARRAS -> NoiseSchedule.karras(sigmaMax, sigmaMin, steps);
            case EXPONENTIAL -> exponential(sigmaMax, sigmaMin, steps);
            case BETA -> beta(sigmaMax, sigmaMin, steps);
            case KL_OPTIMAL -> klOptimal(sigmaMax, sigmaMin, steps);
            case ALIGN_YOUR_STEPS -> alignYourSteps(steps);
            case NONE -> throw new IllegalStateException("the training schedule's levels are not converted");
        };
    }

    /**
     * {@code sigmaMin + ppf(1 − linspace(0, 1, steps)) · (sigmaMax − sigmaMin)}, ppf the Beta(0.6, 0.6) quantile
     * function.
     */
    static double[] beta(double sigmaMax, double sigmaMin, int steps) {
        double[] out = NumpyMath.linspace(0, 1, steps);
        for (int i = 0; i < steps; i++) {
            out[i] = sigmaMin + BetaDistribution.ppf(1 - out[i], BETA_ALPHA, BETA_BETA) * (sigmaMax - sigmaMin);
        }
        return out;
    }

    /**
     * ComfyUI's {@code kl_optimal_scheduler}: {@code tan(a · atan(sigmaMin) + (1 − a) · atan(sigmaMax))} at
     * {@code a = arange(steps) / (steps − 1)}; one step is at {@code sigmaMax}.
     */
    static double[] klOptimal(double sigmaMax, double sigmaMin, int steps) {
        double[] out = new double[steps];
        for (int i = 0; i < steps; i++) {
            double a = steps == 1 ? 0 : (double) i / (steps - 1);
            out[i] = Math.tan(a * Math.atan(sigmaMin) + (1 - a) * Math.atan(sigmaMax));
        }
        return out;
    }

    /**
     * A1111's {@code loglinear_interp(AYS_SDXL, steps)}: log σ of the schedule, lowest first, at
     * {@code linspace(0, 1, 11)}, interpolated as {@code np.interp} at {@code linspace(0, 1, steps)}, highest first.
     */
    static double[] alignYourSteps(int steps) {
        int n = AYS_SDXL.length;
        double[] xs = NumpyMath.linspace(0, 1, n);
        double[] ys = new double[n];
        for (int i = 0; i < n; i++) {
            ys[i] = Math.log(AYS_SDXL[n - 1 - i]);
        }
        double[] at = NumpyMath.linspace(0, 1, steps);
        double[] out = new double[steps];
        for (int i = 0; i < steps; i++) {
            double x = at[i];
            int j = 0;
            while (j < n - 2 && x >= xs[j + 1]) {
                j++;
            }
            double y = x >= xs[n - 1] ? ys[n - 1] : (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j]) * (x - xs[j]) + ys[j];
            out[steps - 1 - i] = Math.exp(y);
        }
        return out;
    }

    /** {@code np.exp(np.linspace(log(sigmaMax), log(sigmaMin), steps))}. */
    static double[] exponential(double sigmaMax, double sigmaMin, int steps) {
        double[] out = NumpyMath.linspace(Math.log(sigmaMax), Math.log(sigmaMin), steps);
        for (int i = 0; i < steps; i++) {
            out[i] = Math.exp(out[i]);
        }
        return out;
    }
}

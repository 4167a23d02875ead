package dev.montage.plugins.schedulers;

/**
 * How a σ-parametrised scheduler turns its noise levels into those of a run: it keeps the training schedule's, or
 * spreads {@code steps} new levels between the highest and the lowest, evenly in σ^(1/7) ({@code use_karras_sigmas},
 * Karras et al. 2022) or in log σ ({@code use_exponential_sigmas}, k-diffusion's exponential schedule, A1111's
 * "Exponential" schedule type), as diffusers' {@code _convert_to_karras} and {@code _convert_to_exponential} do.
 */
enum SigmaConversion {
    /** The training schedule's levels at the spacing's timesteps. */
    NONE,
    /** Evenly spaced in σ^(1/ρ), ρ = 7. */
    KARRAS,
    /** Evenly spaced in log σ. */
    EXPONENTIAL;

    /**
     * The conversion the settings ask for.
     *
     * @param reads whether the scheduler reads {@code use_karras_sigmas} and {@code use_exponential_sigmas}
     * @throws IllegalArgumentException when both are true (diffusers allows one)
     */
    static SigmaConversion of(SchedulerSettings settings, boolean reads) {
        if (!reads) {
            return NONE;
        }
        boolean karras = settings.flag("use_karras_sigmas", false);
        boolean exponential = settings.flag("use_exponential_sigmas", false);
        if (karras && exponential) {
            throw settings.unsupported("use_exponential_sigmas", "use_karras_sigmas is true too, and a run has one "
                    + "schedule of noise levels, as in diffusers");
        }
        return karras ? KARRAS : exponential ? EXPONENTIAL : NONE;
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
            case NONE -> throw new IllegalStateException("the training schedule's levels are not converted");
        };
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

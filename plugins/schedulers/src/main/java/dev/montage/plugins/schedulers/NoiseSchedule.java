package dev.montage.plugins.schedulers;


/**
 * The training noise schedule shared by all schedulers: betas, cumulative alpha products and the sigmas
 * {@code sqrt((1 - ᾱ) / ᾱ)} of the {@code num_train_timesteps} training timesteps, in float32 as diffusers
 * computes them with torch (the cumulative product accumulates in float64, as torch's CPU {@code cumprod}
 * does, and is stored as float32).
 */
final class NoiseSchedule {
    /** Vector lanes of the reference's float32 {@code torch.linspace} (AVX2: 8 floats). */
    private static final int LANES = 8;
    /** Karras et al. (2022)'s ρ. */
    private static final double KARRAS_RHO = 7.0;
    /** The most training timesteps a schedule may have: 100,000 (diffusers' schedulers train on 1000). */
    static final int MAX_TRAIN_TIMESTEPS = 100_000;

    private final float[] alphasCumprod;
    private final float[] sigmas;
    private final float[] logSigmas;

    /**
     * How a scheduler takes {@code rescale_betas_zero_snr} (Lin et al. 2023's zero terminal SNR), as diffusers' class
     * for it does.
     */
    enum ZeroSnr {
        /** The scheduler has no such setting (diffusers' Heun, DPM2, LMS, DPM-Solver SDE). */
        UNREAD,
        /** The betas rescaled so that the last ᾱ is 0 (diffusers 0.23's DDIM and LCM). */
        RESCALED,
        /**
         * The same with the last ᾱ then set to 2⁻²⁴, so that the first σ is finite (later diffusers' Euler, Euler
         * ancestral, DPM-Solver++ and UniPC).
         */
        RESCALED_CLAMPED
    }

    /** The ᾱ later diffusers gives the last timestep of a zero terminal SNR schedule: float16's smallest subnormal. */
    static final float ZERO_SNR_LAST_ALPHA_CUMPROD = 0x1p-24f;

    private NoiseSchedule(float[] betas, boolean clampLast) {
        int n = betas.length;
        alphasCumprod = new float[n];
        sigmas = new float[n];
        logSigmas = new float[n];
        double product = 1;
        for (int t = 0; t < n; t++) {
            product *= 1f - betas[t];
            alphasCumprod[t] = clampLast && t == n - 1 ? ZERO_SNR_LAST_ALPHA_CUMPROD : (float) product;
            float ac = alphasCumprod[t];
            sigmas[t] = (float) Math.sqrt((1f - ac) / ac);
            logSigmas[t] = (float) Math.log(sigmas[t]);
        }
    }

    /**
     * Reads {@code num_train_timesteps}, {@code beta_start}, {@code beta_end}, {@code beta_schedule}
     * ({@code linear} or {@code scaled_linear}) and {@code trained_betas}, with diffusers' defaults.
     */
    static NoiseSchedule of(SchedulerSettings settings) {
        return of(settings, ZeroSnr.UNREAD);
    }

    /**
     * As {@link #of(SchedulerSettings)}, and {@code rescale_betas_zero_snr} as {@code zeroSnr} takes it.
     *
     * @throws IllegalArgumentException for zero terminal SNR with {@code prediction_type} epsilon, whose x₀ estimate
     *     at ᾱ = 0 divides by zero (diffusers' result is not finite)
     */
    static NoiseSchedule of(SchedulerSettings settings, ZeroSnr zeroSnr) {
        float[] betas = betas(settings);
        if (zeroSnr == ZeroSnr.UNREAD || !settings.flag("rescale_betas_zero_snr", false)) {
            return new NoiseSchedule(betas, false);
        }
        if (PredictionType.of(settings) == PredictionType.EPSILON) {
            throw settings.unsupported("rescale_betas_zero_snr", "a zero terminal SNR schedule has ᾱ = 0 at its last "
                    + "training timestep, where an epsilon prediction gives no x₀ estimate: use it with "
                    + "prediction_type v_prediction, as its models are trained");
        }
        return new NoiseSchedule(zeroTerminalSnr(betas), zeroSnr == ZeroSnr.RESCALED_CLAMPED);
    }

    /**
     * diffusers' {@code rescale_zero_terminal_snr}, in float32 as its torch operations compute it: √ᾱ shifted so that
     * its last value is 0 and scaled so that its first is kept, the betas recovered from the ratios of successive ᾱ.
     */
    static float[] zeroTerminalSnr(float[] betas) {
        int n = betas.length;
        float[] root = new float[n];
        double product = 1;
        for (int t = 0; t < n; t++) {
            product *= 1f - betas[t];
            root[t] = (float) Math.sqrt((float) product);
        }
        float first = root[0];
        float last = root[n - 1];
        float factor = first / (first - last);
        float[] alphasBar = new float[n];
        for (int t = 0; t < n; t++) {
            float shifted = (root[t] - last) * factor;
            alphasBar[t] = shifted * shifted;
        }
        float[] out = new float[n];
        out[0] = 1f - alphasBar[0];
        for (int t = 1; t < n; t++) {
            out[t] = 1f - alphasBar[t] / alphasBar[t - 1];
        }
        return out;
    }

    /** The training betas the settings give. */
    private static float[] betas(SchedulerSettings settings) {
        int n = settings.integer("num_train_timesteps", 1000, 2, MAX_TRAIN_TIMESTEPS);
        float[] trained = settings.floats("trained_betas").orElse(null);
        if (trained != null) {
            if (trained.length != n) {
                throw settings.invalid("trained_betas", "a list of num_train_timesteps (" + n + ") numbers");
            }
            return trained;
        }
        double start = settings.number("beta_start", 0.0001);
        double end = settings.number("beta_end", 0.02);
        String kind = settings.choice("beta_schedule", "linear", SchedulerOptions.BETA_SCHEDULE.choices());
        if (kind.equals("squaredcos_cap_v2")) {
            throw settings.unsupported("beta_schedule", "the cosine schedule is not implemented");
        }
        if (kind.equals("linear")) {
            return torchLinspace(start, end, n);
        }
        float[] betas = torchLinspace(Math.sqrt(start), Math.sqrt(end), n);
        for (int t = 0; t < n; t++) {
            betas[t] = betas[t] * betas[t];
        }
        return betas;
    }

    /** Number of training timesteps. */
    int trainSteps() {
        return alphasCumprod.length;
    }

    /** ᾱ at a training timestep. */
    float alphaCumprod(int t) {
        return alphasCumprod[t];
    }

    /** σ at a training timestep. */
    float sigma(int t) {
        return sigmas[t];
    }

    /** σ at a (possibly fractional) timestep, linearly interpolated as {@code np.interp} does. */
    double interpolateSigma(double t) {
        return NumpyMath.interp(t, sigmas);
    }

    /**
     * The fractional timestep of a σ: linear interpolation in log σ between the two training timesteps around
     * it (diffusers' {@code _sigma_to_t}).
     */
    double sigmaToTimestep(double sigma) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int low = 0;
        for (int t = 0; t < logSigmas.length; t++) {
            if (logSigma - logSigmas[t] >= 0) {
                low = t;
            }
        }
        low = Math.min(low, logSigmas.length - 2);
        double w = ((double) logSigmas[low] - logSigma) / ((double) logSigmas[low] - logSigmas[low + 1]);
        w = Math.max(0, Math.min(1, w));
        return (1 - w) * low + w * (low + 1);
    }

    /**
     * Karras et al. (2022)'s noise levels: {@code steps} values from {@code sigmaMax} down to {@code sigmaMin},
     * evenly spaced in σ^(1/ρ), ρ = 7.
     */
    static double[] karras(double sigmaMax, double sigmaMin, int steps) {
        double[] ramp = NumpyMath.linspace(0, 1, steps);
        double minInvRho = Math.pow(sigmaMin, 1 / KARRAS_RHO);
        double maxInvRho = Math.pow(sigmaMax, 1 / KARRAS_RHO);
        double[] out = new double[steps];
        for (int i = 0; i < steps; i++) {
            out[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), KARRAS_RHO);
        }
        return out;
    }

    /**
     * Checks a step count against the training timesteps.
     *
     * @throws IllegalArgumentException when it is outside 1..num_train_timesteps
     */
    void checkSteps(int steps) {
        if (steps < 1 || steps > trainSteps()) {
            throw new IllegalArgumentException("number of steps must be between 1 and num_train_timesteps ("
                    + trainSteps() + "), got " + steps);
        }
    }

    /**
     * {@code torch.linspace(start, end, steps, dtype=torch.float32)} with the values PyTorch's CPU kernel gave
     * the reference (torch 1.13): {@code step = (end - start) / (steps - 1)} in float32; the first half counts
     * up from {@code start}, the second half down from {@code end}; the values come in vector chunks of 8
     * lanes, whose first lane is {@code start + step * i} (or {@code end - step * (steps - 1 - i)}) and whose
     * lane k adds {@code k * step} to it, each a fused multiply-add, and the last {@code steps mod 16} values are
     * computed one at a time. Correctly rounded float64 values would move some SDXL betas by an ulp and some
     * sigmas by 1-2 float32 ulps.
     */
    static float[] torchLinspace(double start, double end, int steps) {
        float from = (float) start;
        float to = (float) end;
        float step = (to - from) / (steps - 1);
        int halfway = steps / 2;
        float[] out = new float[steps];
        int vectorized = steps / (2 * LANES) * (2 * LANES);
        for (int chunk = 0; chunk < vectorized; chunk += LANES) {
            float base = linspaceValue(from, to, step, chunk, halfway, steps);
            for (int k = 0; k < LANES; k++) {
                out[chunk + k] = Math.fma(k, step, base);
            }
        }
        for (int i = vectorized; i < steps; i++) {
            out[i] = linspaceValue(from, to, step, i, halfway, steps);
        }
        return out;
    }

    private static float linspaceValue(float from, float to, float step, int i, int halfway, int steps) {
        return i < halfway ? Math.fma(step, i, from) : Math.fma(-step, steps - 1 - i, to);
    }
}

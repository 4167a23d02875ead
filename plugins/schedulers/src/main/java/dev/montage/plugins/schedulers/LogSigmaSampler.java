package dev.montage.plugins.schedulers;

/**
 * The DPM-Solver++ samplers that step in t = −log σ on the discrete schedulers' noise levels: DPM++ SDE and DPM++ 2S a,
 * which evaluate the model twice per step ({@link MidpointRun}), and DPM++ 3M SDE.
 */
abstract class LogSigmaSampler extends SometimesStochastic {
    final SchedulerSettings settings;
    final DiscreteSigmas noiseLevels;
    final PredictionType prediction;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    LogSigmaSampler(SchedulerSettings settings) {
        this.settings = settings;
        noiseLevels = new DiscreteSigmas(settings, true);
        prediction = PredictionType.of(settings);
    }

    /** {@code t_fn}: t = −log σ, in float32 as the reference computes it. */
    static float timeOf(float sigma) {
        return -(float) Math.log(sigma);
    }

    /** {@code sigma_fn}: σ = exp(−t), in float32. */
    static float sigmaOf(float t) {
        return (float) Math.exp(-t);
    }
}

package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import java.util.Objects;

/**
 * A run on the discrete noise levels whose steps but the last evaluate the model twice (DPM2, DPM++ SDE): evaluation
 * 2k at step k's σ_k, evaluation 2k + 1 at a midpoint of the step, from which the step is taken again from the latents
 * it started from. Between the two evaluations the run keeps those latents, attached to the generation's state manager
 * (closed by the second evaluation, or with that manager when a generation stops early); the last step keeps nothing.
 */
abstract class MidpointRun extends DiscreteSigmas.SigmaRun {
    private final String sampler;
    private final float[] levels;
    private final NDManager state;
    private NDArray start;

    /**
     * @param sampler      the sampler's name, for the refusal of evaluations out of order
     * @param midTimesteps the timestep of each step's midpoint (the last step has none)
     * @param midSigmas    the σ at which the model sees the latents of each step's midpoint
     */
    MidpointRun(String sampler, DiscreteSigmas.Levels levels, float[] midTimesteps, float[] midSigmas,
            NDManager state) {
        super(interleave(levels.timesteps(), midTimesteps, 2 * levels.timesteps().length - 1),
                interleave(levels.sigmas(), midSigmas, 2 * levels.timesteps().length), levels.initNoiseSigma());
        this.sampler = sampler;
        this.levels = levels.sigmas();
        this.state = Objects.requireNonNull(state, "state");
    }

    /** Step k's value at evaluation 2k and its midpoint's at 2k + 1, for {@code length} evaluations (0 after). */
    private static float[] interleave(float[] atSteps, float[] midpoints, int length) {
        float[] out = new float[length];
        for (int e = 0; e < 2 * atSteps.length - 1 && e < length; e++) {
            out[e] = e % 2 == 0 ? atSteps[e / 2] : midpoints[e / 2];
        }
        return out;
    }

    @Override
    public final int firstEvaluationOf(int step) {
        return 2 * step;
    }

    /**
     * x₀ + σ · ε at the σ diffusers' {@code add_noise} finds for the evaluation's timestep: its {@code sigmas} list
     * each level after the first twice, not the midpoints, so evaluation 2k + 1 noises to σ_{k+1}.
     */
    @Override
    final NDArray noised(NDArray original, NDArray noise, int index) {
        return original.add(noise.mul(levels[(index + 1) / 2]));
    }

    /** σ_k, the noise level of step k (0 after the last step). */
    final float level(int k) {
        return levels[k];
    }

    /**
     * @throws IllegalStateException when evaluations are not taken in order
     */
    @Override
    final NDArray update(NDArray modelOutput, int index, NDArray latents) {
        int k = index / 2;
        boolean first = index % 2 == 0;
        if (first == (start != null)) {
            throw new IllegalStateException(sampler + " evaluations must be taken in order: step index " + index
                    + (first ? " begins a step while the last one awaits its second evaluation"
                    : " is a second evaluation, but no step awaits one"));
        }
        if (first) {
            NDArray next = first(modelOutput, k, latents);
            if (index < steps() - 1) {
                start = latents.duplicate();
                start.attach(state);
            }
            return next;
        }
        NDArray next = second(modelOutput, k, latents, Scopes.borrow(start, latents.getManager()));
        start.close();
        start = null;
        return next;
    }

    /** Step k's first evaluation (for the last step, its only one), in the step's scope as {@link #update}. */
    abstract NDArray first(NDArray modelOutput, int k, NDArray latents);

    /**
     * Step k's second evaluation, at its midpoint.
     *
     * @param start the latents the step started from
     */
    abstract NDArray second(NDArray modelOutput, int k, NDArray latents, NDArray start);
}

package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;

/**
 * A diffusion sampler (Euler, DDIM, DPM-Solver++). The scheduler is shared and stateless; each generation
 * gets its own {@link Run} holding the multistep history.
 */
public interface Scheduler {

    /** Starts a run of {@code steps} steps. */
    Run start(int steps);

    /** The state of one generation's sampling. */
    interface Run {

        /** The timesteps, in order of use, {@code steps} of them. */
        float[] timesteps();

        /** Standard deviation of the initial noise (the raw noise is multiplied by it). */
        float initNoiseSigma();

        /** Scales the latents before the model sees them at step {@code index} (Euler divides by sqrt(σ²+1)). */
        NDArray scaleModelInput(NDArray latents, int index);

        /**
         * One step back in time.
         *
         * @param modelOutput [B, 4, h, w] guided noise prediction
         * @param index       0-based step index
         * @param latents     [B, 4, h, w] current latents
         * @return the latents for the next step, attached to the manager of {@code latents}
         */
        NDArray step(NDArray modelOutput, int index, NDArray latents);
    }
}

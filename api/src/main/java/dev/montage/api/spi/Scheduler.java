package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Map;

/**
 * A diffusion sampler (Euler, Euler ancestral, Heun, DPM2, LMS, DDIM, DPM-Solver++, DPM++ SDE, UniPC, LCM). The
 * scheduler is shared and stateless; each generation gets its own {@link Run} holding the multistep history.
 *
 * <p>Arrays a run keeps from one step to the next (a multistep solver's previous estimates) belong to the
 * {@code state} manager given to {@link #start}: the generation's own scope, which outlives every step and is
 * closed when the generation ends, cancelled or failed included. The latents handed to
 * {@link Run#step} belong to a per-step scope that is closed after the step, so nothing kept may be attached to
 * their manager.
 */
public interface Scheduler {

    /**
     * Starts a run of {@code steps} steps.
     *
     * @param state the generation's scope: arrays the run keeps between steps are attached to it (or to a
     *              sub-manager of it), never to the manager of the latents a step receives
     */
    Run start(int steps, NDManager state);

    /**
     * Starts a run that may add fresh noise at its steps (an ancestral or SDE sampler), drawn from {@code noise}.
     * The host always starts runs this way; a deterministic sampler leaves it to {@link #start(int, NDManager)}.
     *
     * @param noise the generation's step noise
     */
    default Run start(int steps, NDManager state, StepNoise noise) {
        return start(steps, state);
    }

    /**
     * This scheduler with some of its settings replaced, for one request (diffusers' configuration names, e.g.
     * {@code timestep_spacing} or {@code use_karras_sigmas}). The shared scheduler itself is not changed.
     *
     * @param overrides setting name to value; numbers and booleans may also be given as strings
     * @return a scheduler with those settings ({@code this} when there are none)
     * @throws IllegalArgumentException naming a setting that is unknown or has an invalid value
     */
    default Scheduler withOverrides(Map<String, ?> overrides) {
        if (overrides.isEmpty()) {
            return this;
        }
        throw new IllegalArgumentException(getClass().getName() + " has no settings to override, got "
                + overrides.keySet());
    }

    /**
     * Standard normal noise for the steps of one generation, drawn from its seed: the same seed, step and shape give
     * the same values on every device and in every compute dtype, and image {@code b} of a batch gets what a
     * generation of seed + {@code b} gets.
     */
    @FunctionalInterface
    interface StepNoise {
        /**
         * @param manager where the array is created (a step's own scope)
         * @param shape   [images, channels, height, width] of the latents
         * @param index   0-based step index: each step has its own values
         * @return float32 values of {@code shape}
         */
        NDArray sample(NDManager manager, Shape shape, int index);
    }

    /** The state of one generation's sampling. */
    interface Run {

        /**
         * The timesteps, in order of use, one per model evaluation: {@code steps} of them, or more for a sampler that
         * evaluates the model more than once per step (Heun, DPM2, DPM++ SDE: 2 · steps − 1). The host runs the model
         * at each and counts its progress, step indices and ControlNet guidance fractions in them, as diffusers' loop
         * does.
         */
        float[] timesteps();

        /** Standard deviation of the initial noise (the raw noise is multiplied by it). */
        float initNoiseSigma();

        /** Scales the latents before the model sees them at step {@code index} (Euler divides by sqrt(σ²+1)). */
        NDArray scaleModelInput(NDArray latents, int index);

        /**
         * The index of the first model evaluation of step {@code step}: {@code step}, or for a sampler that evaluates
         * the model more than once per step the index of its first (diffusers' {@code step * scheduler.order}). A
         * generation from a picture begins there.
         */
        default int firstEvaluationOf(int step) {
            return step;
        }

        /**
         * Noises clean latents to the noise level of evaluation {@code index}, for a generation that starts there from
         * a picture (image-to-image): diffusers' {@code add_noise} at {@code timesteps()[index]}. Such a generation
         * takes {@link #step} at {@code index} first and at every later index in order; a run counts a multistep
         * history from the first step it takes, as diffusers' schedulers do.
         *
         * @param original [B, C, h, w] the picture's latents
         * @param noise    standard normal noise of the same shape
         * @return the noised latents, attached to the manager of {@code original}
         * @throws UnsupportedOperationException when this sampler cannot start from a picture (the default)
         */
        default NDArray addNoise(NDArray original, NDArray noise, int index) {
            throw new UnsupportedOperationException("this sampler cannot start from a picture: it does not noise "
                    + "latents to a step's level");
        }

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

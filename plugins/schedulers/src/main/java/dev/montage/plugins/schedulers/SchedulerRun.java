package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Scheduler;

/**
 * What every run shares: its timesteps, the index check, and a memory scope around each step's arithmetic.
 *
 * <p>Steps use only element-wise arithmetic between arrays and float scalars, which works in every compute
 * dtype including bf16; the result has the dtype torch's promotion gives (the latents' dtype when the model
 * output has the same or a narrower one). The scalar coefficients are computed with float32 operations in the
 * order diffusers applies them to its float32 0-dim tensors.
 */
abstract class SchedulerRun implements Scheduler.Run {
    private final float[] timesteps;
    private final float initNoiseSigma;
    /** The index the next step must have, -1 before the first. */
    private int expected = -1;
    private int begin;

    SchedulerRun(float[] timesteps, float initNoiseSigma) {
        this.timesteps = timesteps;
        this.initNoiseSigma = initNoiseSigma;
    }

    @Override
    public final float[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public final float initNoiseSigma() {
        return initNoiseSigma;
    }

    /** Number of steps of the run. */
    final int steps() {
        return timesteps.length;
    }

    @Override
    public final NDArray step(NDArray modelOutput, int index, NDArray latents) {
        checkIndex(index);
        NDManager owner = latents.getManager();
        try (NDManager scope = owner.newSubManager()) {
            NDArray x = Scopes.borrow(latents, scope);
            NDArray output = modelOutput == latents ? x : Scopes.borrow(modelOutput, scope);
            NDArray next = update(output, index, x);
            next.attach(owner);
            return next;
        }
    }

    @Override
    public final NDArray addNoise(NDArray original, NDArray noise, int index) {
        checkIndex(index);
        NDManager owner = original.getManager();
        try (NDManager scope = owner.newSubManager()) {
            NDArray noised = noised(Scopes.borrow(original, scope), Scopes.borrow(noise, scope), index);
            noised.attach(owner);
            return noised;
        }
    }

    /** diffusers' {@code add_noise} at evaluation {@code index}, in a scope as {@link #update}. */
    abstract NDArray noised(NDArray original, NDArray noise, int index);

    /**
     * diffusers' {@code add_noise} of DDIM and LCM: √ᾱ · x₀ + √(1 − ᾱ) · ε at the timestep's ᾱ.
     */
    static NDArray noisedTo(NDArray original, NDArray noise, float alphaCumprod) {
        return original.mul(sqrt(alphaCumprod)).add(noise.mul(sqrt(1f - alphaCumprod)));
    }

    /** diffusers' {@code add_noise} of its multistep solvers: α · x₀ + σ · ε at the step's noise level σ̃. */
    static NDArray noisedTo(NDArray original, NDArray noise, NoiseLevel level) {
        return original.mul(level.alpha()).add(noise.mul(level.sigma()));
    }

    /**
     * Checks that a multistep solver's steps come in order from the first it takes (which a generation from a picture
     * takes at a later index).
     *
     * @return how many steps the run took before this one
     * @throws IllegalStateException when {@code index} is not the step after the last one taken
     */
    final int stepsBefore(int index, String sampler) {
        if (expected < 0) {
            begin = index;
        } else if (index != expected) {
            throw new IllegalStateException(sampler + " steps must be taken in order: expected step " + expected
                    + ", got " + index);
        }
        expected = index + 1;
        return index - begin;
    }

    /**
     * The step's arithmetic. {@code modelOutput} and {@code latents} are borrowed into a scope that is closed
     * afterwards, so intermediates need no closing; the result is moved to the latents' manager.
     * Arrays that must outlive the step go to the run's state manager, never to the latents' manager, which
     * may be a scope of this step only.
     */
    abstract NDArray update(NDArray modelOutput, int index, NDArray latents);

    /**
     * Checks a step index.
     *
     * @return the index
     * @throws IllegalArgumentException when it is outside the run
     */
    final int checkIndex(int index) {
        if (index < 0 || index >= timesteps.length) {
            throw new IllegalArgumentException("step index " + index + " outside 0.." + (timesteps.length - 1));
        }
        return index;
    }

    /**
     * No scaling (DDIM, DPM-Solver++): the latents as a separate array over the same storage (a torch
     * {@code detach}), so that a caller can close the model input whatever the scheduler.
     */
    @Override
    public NDArray scaleModelInput(NDArray latents, int index) {
        checkIndex(index);
        return latents.stopGradient();
    }

    /** The refusal of a stochastic sampler started without the generation's step noise. */
    static IllegalStateException withoutStepNoise(String sampler) {
        return new IllegalStateException(sampler + " adds fresh noise at each step: start it with the generation's "
                + "step noise");
    }

    /** Integer timesteps as the floats {@link #timesteps()} reports. */
    static float[] toFloats(int[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    /** √x in float32. */
    static float sqrt(float x) {
        return (float) Math.sqrt(x);
    }
}

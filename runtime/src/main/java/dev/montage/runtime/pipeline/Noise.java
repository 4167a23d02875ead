package dev.montage.runtime.pipeline;

import java.util.SplittableRandom;
import java.util.function.LongFunction;

/**
 * Noise drawn in Java from the request's seed, so the same seed gives the same noise on every device and in every
 * dtype (PyTorch's generators differ between CPU and CUDA): the starting latents, and the fresh noise an ancestral
 * sampler adds at each step. To reproduce another implementation's result exactly, pass its starting noise as initial
 * latents instead.
 */
final class Noise {
    /** Odd constants of the golden ratio and of MurmurHash3's finaliser, spreading a step index over a seed. */
    private static final long STEP_MIX = 0x9E3779B97F4A7C15L;
    private static final long IMAGE_MIX = 0xC2B2AE3D27D4EB4FL;
    /** The odd constants of MurmurHash3's finaliser, for the streams of the posterior samples of pictures. */
    private static final long POSTERIOR_MIX = 0xFF51AFD7ED558CCDL;
    private static final long MASKED_POSTERIOR_MIX = 0xC4CEB9FE1A85EC53L;

    private Noise() {
    }

    /** Standard normal values for a shape; image b of a batch uses the stream of {@code seed + b}. */
    static float[] gaussian(long seed, long[] shape) {
        return gaussian(shape, b -> new SplittableRandom(seed + b));
    }

    /**
     * The fresh noise of step {@code index}: image b of a batch uses a stream of its own for each step, derived from
     * {@code seed + b}, so it equals a single generation's with seed + b, and no step repeats another's values or the
     * starting noise's.
     */
    static float[] step(long seed, int index, long[] shape) {
        return gaussian(shape, b -> new SplittableRandom((seed + b) * IMAGE_MIX + (index + 1L) * STEP_MIX));
    }

    /**
     * The noise that samples an init image's latent posterior: image b of a batch uses a stream of its own derived from
     * {@code seed + b}, distinct from the starting noise and every step's.
     */
    static float[] posterior(long seed, long[] shape) {
        return gaussian(shape, b -> new SplittableRandom((seed + b) * POSTERIOR_MIX));
    }

    /**
     * The noise that samples the latent posterior of an inpainting denoiser's masked picture: a stream per image of
     * its own, derived from {@code seed + b}.
     */
    static float[] maskedPosterior(long seed, long[] shape) {
        return gaussian(shape, b -> new SplittableRandom((seed + b) * MASKED_POSTERIOR_MIX));
    }

    private static float[] gaussian(long[] shape, LongFunction<SplittableRandom> streamOfImage) {
        int perImage = Math.toIntExact(shape[1] * shape[2] * shape[3]);
        float[] out = new float[Math.toIntExact(shape[0]) * perImage];
        for (int b = 0; b < shape[0]; b++) {
            SplittableRandom random = streamOfImage.apply(b);
            for (int i = 0; i < perImage; i += 2) {
                double u1 = 1.0 - random.nextDouble();
                double u2 = random.nextDouble();
                double r = Math.sqrt(-2 * Math.log(u1));
                out[b * perImage + i] = (float) (r * Math.cos(2 * Math.PI * u2));
                if (i + 1 < perImage) {
                    out[b * perImage + i + 1] = (float) (r * Math.sin(2 * Math.PI * u2));
                }
            }
        }
        return out;
    }
}

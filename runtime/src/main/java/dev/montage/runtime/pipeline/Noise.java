package dev.montage.runtime.pipeline;

import java.util.SplittableRandom;

/**
 * Starting noise drawn in Java from the request's seed, so the same seed gives the same noise on every device
 * and in every dtype (PyTorch's generators differ between CPU and CUDA). To reproduce another implementation's
 * result exactly, pass its noise as initial latents instead.
 */
final class Noise {
    private Noise() {
    }

    /** Standard normal values for a shape; image b of a batch uses the stream of {@code seed + b}. */
    static float[] gaussian(long seed, long[] shape) {
        int perImage = Math.toIntExact(shape[1] * shape[2] * shape[3]);
        float[] out = new float[Math.toIntExact(shape[0]) * perImage];
        for (int b = 0; b < shape[0]; b++) {
            // one stream per image, so image b of a batch equals a single generation with seed + b
            SplittableRandom random = new SplittableRandom(seed + b);
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

package dev.montage.runtime.pipeline;

import dev.montage.api.Variation;
import java.util.Optional;
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
     * The starting noise of a request: {@link #gaussian} of its seed, or with a variation, for each image A1111's
     * {@code slerp(strength, noise, subnoise)} of it and the variation seed's noise. A1111 interpolates each image's
     * [C, H, W] noise column by column: the unit vectors are taken along H (its {@code dim=1}), and where their mean
     * cosine is above 0.9995 it falls back to {@code noise * strength + subnoise * (1 - strength)}, as it writes it.
     */
    static float[] starting(long seed, Optional<Variation> variation, long[] shape) {
        float[] noise = gaussian(seed, shape);
        if (variation.isEmpty()) {
            return noise;
        }
        double t = variation.get().strength();
        float[] sub = gaussian(variation.get().seed(), shape);
        int c = Math.toIntExact(shape[1]);
        int h = Math.toIntExact(shape[2]);
        int w = Math.toIntExact(shape[3]);
        float[] out = new float[noise.length];
        for (int b = 0; b < shape[0]; b++) {
            int image = b * c * h * w;
            double[] dot = new double[c * w];
            double meanDot = 0;
            for (int ch = 0; ch < c; ch++) {
                for (int x = 0; x < w; x++) {
                    double nn = 0;
                    double ss = 0;
                    double ns = 0;
                    for (int y = 0; y < h; y++) {
                        int i = image + (ch * h + y) * w + x;
                        nn += (double) noise[i] * noise[i];
                        ss += (double) sub[i] * sub[i];
                        ns += (double) noise[i] * sub[i];
                    }
                    dot[ch * w + x] = ns / (Math.sqrt(nn) * Math.sqrt(ss));
                    meanDot += dot[ch * w + x] / (c * w);
                }
            }
            for (int ch = 0; ch < c; ch++) {
                for (int x = 0; x < w; x++) {
                    double omega = Math.acos(Math.min(1, dot[ch * w + x]));
                    double so = Math.sin(omega);
                    // a column whose two vectors point the same way has no arc: its values are the same either way
                    boolean linear = meanDot > 0.9995 || so < 1e-12;
                    double a = linear ? t : Math.sin((1 - t) * omega) / so;
                    double bWeight = linear ? 1 - t : Math.sin(t * omega) / so;
                    for (int y = 0; y < h; y++) {
                        int i = image + (ch * h + y) * w + x;
                        out[i] = (float) (a * noise[i] + bWeight * sub[i]);
                    }
                }
            }
        }
        return out;
    }

    /**
     * The starting noise of a request whose seed's noise is drawn at another latent size ({@code drawnAt}: rows and
     * columns), as A1111's {@code create_random_tensors} with "Seed resize from": {@link #starting} at that size, set
     * in the middle of the seed's noise of the request's own size (its offsets halved with floor division, as
     * Python's), cropped in the middle where the request is smaller.
     */
    static float[] starting(long seed, Optional<Variation> variation, Optional<int[]> drawnAt, long[] shape) {
        int bigH = Math.toIntExact(shape[2]);
        int bigW = Math.toIntExact(shape[3]);
        if (drawnAt.isEmpty() || drawnAt.get()[0] == bigH && drawnAt.get()[1] == bigW) {
            return starting(seed, variation, shape);
        }
        int h = drawnAt.get()[0];
        int w = drawnAt.get()[1];
        float[] drawn = starting(seed, variation, new long[] {shape[0], shape[1], h, w});
        float[] out = gaussian(seed, shape);
        int dx = Math.floorDiv(bigW - w, 2);
        int dy = Math.floorDiv(bigH - h, 2);
        int width = dx >= 0 ? w : w + 2 * dx;
        int height = dy >= 0 ? h : h + 2 * dy;
        int tx = Math.max(dx, 0);
        int ty = Math.max(dy, 0);
        int sx = Math.max(-dx, 0);
        int sy = Math.max(-dy, 0);
        int planes = Math.toIntExact(shape[0] * shape[1]);
        for (int p = 0; p < planes; p++) {
            for (int y = 0; y < height; y++) {
                System.arraycopy(drawn, (p * h + sy + y) * w + sx, out, (p * bigH + ty + y) * bigW + tx, width);
            }
        }
        return out;
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

package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.Hires;
import dev.montage.runtime.testing.TestEngine;
import org.junit.jupiter.api.Test;

/** The latents of a hires pass's latent upscalers: PyTorch's interpolate modes without corner alignment. */
class LatentUpscaleTest {

    @Test
    void itIsPyTorchsBilinearInterpolateWithoutCornerAlignment() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(new float[] {0, 1, 2, 3, 10, 20, 30, 40}, new Shape(1, 2, 2, 2));
            // torch.nn.functional.interpolate(x, size=(4, 4), mode="bilinear") with align_corners=False
            float[] first = {0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f,
                2.75f, 3};
            float[] second = new float[16];
            for (int i = 0; i < 16; i++) {
                second[i] = 10 * first[i] + 10;
            }
            float[] expected = new float[32];
            System.arraycopy(first, 0, expected, 0, 16);
            System.arraycopy(second, 0, expected, 16, 16);
            assertArrayEquals(expected, Pipeline.interpolated(x, Hires.Upscaler.LATENT, 4, 4).toFloatArray(), 1e-6f);
            // to 3 x 2: source rows at (i + 0.5) * 2/3 - 0.5 = -1/6 (clamped to 0), 1/2, 7/6 (the last row alone);
            // columns kept
            assertArrayEquals(new float[] {0, 1, 1, 2, 2, 3}, Pipeline.interpolated(x.get("0:1, 0:1"),
                    Hires.Upscaler.LATENT, 3, 2)
                    .toFloatArray(), 1e-6f);
        }
    }

    /**
     * The other latent upscalers, along a row of three enlarged to four and five, each as PyTorch computes it (here in
     * float64): nearest (floor(i · 3/n)), nearest-exact (floor((i + 0.5) · 3/n)), bicubic (its cubic convolution with
     * A = −0.75 around (i + 0.5) · 3/n − 0.5, the taps clamped to the row), bicubic antialiased (Pillow's cubic filter,
     * A = −0.5, over the cells within 2 of the centre (i + 0.5) · 3/n, its weights normalised) and bilinear
     * antialiased, which for an enlargement is the plain bilinear.
     */
    @Test
    void theOtherLatentUpscalersAreTorchsInterpolations() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray row = m.create(new float[] {0, 1, 4}, new Shape(1, 1, 1, 3));
            double[] v = {0, 1, 4};
            for (int n : new int[] {4, 5}) {
                float[] nearest = new float[n];
                float[] exact = new float[n];
                float[] bicubic = new float[n];
                float[] smooth = new float[n];
                double scale = 3.0 / n;
                for (int i = 0; i < n; i++) {
                    nearest[i] = (float) v[(int) Math.floor(i * scale)];
                    exact[i] = (float) v[Math.min((int) Math.floor((i + 0.5) * scale), 2)];
                    double x = (i + 0.5) * scale - 0.5;
                    int base = (int) Math.floor(x);
                    double t = x - base;
                    double[] w = {cubic(t + 1, -0.75), cubic(t, -0.75), cubic(1 - t, -0.75), cubic(2 - t, -0.75)};
                    double sum = 0;
                    for (int k = 0; k < 4; k++) {
                        sum += w[k] * v[Math.max(0, Math.min(2, base - 1 + k))];
                    }
                    bicubic[i] = (float) sum;
                    double center = (i + 0.5) * scale;
                    double weighted = 0;
                    double total = 0;
                    int last = Math.min((int) (center + 2 + 0.5), 3);
                    for (int j = Math.max((int) (center - 2 + 0.5), 0); j < last; j++) {
                        double weight = cubic(Math.abs(j + 0.5 - center), -0.5);
                        weighted += weight * v[j];
                        total += weight;
                    }
                    smooth[i] = (float) (weighted / total);
                }
                assertArrayEquals(nearest, up(row, Hires.Upscaler.LATENT_NEAREST, n), "nearest to " + n);
                assertArrayEquals(exact, up(row, Hires.Upscaler.LATENT_NEAREST_EXACT, n), "nearest-exact to " + n);
                assertArrayEquals(bicubic, up(row, Hires.Upscaler.LATENT_BICUBIC, n), 1e-5f, "bicubic to " + n);
                assertArrayEquals(smooth, up(row, Hires.Upscaler.LATENT_BICUBIC_ANTIALIASED, n), 1e-5f,
                        "bicubic antialiased to " + n);
                assertArrayEquals(up(row, Hires.Upscaler.LATENT, n), up(row, Hires.Upscaler.LATENT_ANTIALIASED, n),
                        "bilinear antialiased to " + n);
            }
            // both axes: each output cell the sum over the 4 × 4 clamped taps of the products of the axes' weights
            float[] plane = {0, 1, 2, 5};
            float[] both = Pipeline.interpolated(m.create(plane, new Shape(1, 1, 2, 2)), Hires.Upscaler.LATENT_BICUBIC,
                    3, 3).toFloatArray();
            for (int r = 0; r < 3; r++) {
                for (int c = 0; c < 3; c++) {
                    double sum = 0;
                    for (int i = 0; i < 4; i++) {
                        for (int j = 0; j < 4; j++) {
                            sum += weight(r, i) * weight(c, j) * plane[tap(r, i) * 2 + tap(c, j)];
                        }
                    }
                    assertEquals(sum, both[r * 3 + c], 1e-5, "cell " + r + ", " + c);
                }
            }
        }
    }

    /** Tap k's weight of output cell i when 2 cells become 3 bicubically. */
    private static double weight(int i, int k) {
        double x = (i + 0.5) * 2 / 3 - 0.5;
        return cubic(x - Math.floor(x) + 1 - k, -0.75);
    }

    /** Tap k's cell, clamped, of output cell i when 2 cells become 3. */
    private static int tap(int i, int k) {
        return Math.max(0, Math.min(1, (int) Math.floor((i + 0.5) * 2 / 3 - 0.5) - 1 + k));
    }

    private static float[] up(NDArray row, Hires.Upscaler upscaler, int n) {
        return Pipeline.interpolated(row, upscaler, 1, n).toFloatArray();
    }

    /** The cubic convolution kernel of coefficient {@code a} at distance |x| &lt; 2. */
    private static double cubic(double x, double a) {
        x = Math.abs(x);
        return x <= 1 ? ((a + 2) * x - (a + 3)) * x * x + 1 : ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    }
}

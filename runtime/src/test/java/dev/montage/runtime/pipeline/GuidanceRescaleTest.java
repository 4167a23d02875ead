package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.runtime.testing.TestEngine;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** diffusers' {@code rescale_noise_cfg}, checked against its formula in float64. */
class GuidanceRescaleTest {

    /**
     * Each image of the guided prediction is scaled towards the conditional one's standard deviation (torch's unbiased
     * {@code std} over channels and pixels, image by image) by φ; φ = 0 leaves it as it is.
     */
    @Test
    void theGuidedPredictionTakesTheConditionalOnesStandardDeviation() {
        Random random = new Random(3);
        int images = 2;
        int perImage = 4 * 3 * 5;
        float[] cfg = new float[images * perImage];
        float[] cond = new float[images * perImage];
        for (int i = 0; i < cfg.length; i++) {
            cfg[i] = (float) (random.nextGaussian() * 3 + 0.5);
            cond[i] = (float) (random.nextGaussian() * (i < perImage ? 1 : 0.2));
        }
        for (double phi : new double[] {0, 0.7, 1}) {
            try (NDManager m = TestEngine.manager().newSubManager()) {
                Shape shape = new Shape(images, 4, 3, 5);
                float[] out = Pipeline.rescaled(m.create(cfg, shape), m.create(cond, shape), phi).toFloatArray();
                for (int b = 0; b < images; b++) {
                    double ratio = std(cond, b * perImage, perImage) / std(cfg, b * perImage, perImage);
                    for (int i = b * perImage; i < (b + 1) * perImage; i++) {
                        double expected = phi * cfg[i] * ratio + (1 - phi) * cfg[i];
                        assertEquals(expected, out[i], 1e-5 * Math.max(1, Math.abs(expected)), "φ " + phi + " " + i);
                    }
                }
            }
        }
    }

    private static double std(float[] x, int from, int count) {
        double mean = 0;
        for (int i = from; i < from + count; i++) {
            mean += x[i];
        }
        mean /= count;
        double squares = 0;
        for (int i = from; i < from + count; i++) {
            squares += (x[i] - mean) * (x[i] - mean);
        }
        return Math.sqrt(squares / (count - 1));
    }
}

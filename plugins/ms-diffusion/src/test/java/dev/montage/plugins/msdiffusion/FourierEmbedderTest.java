package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.runtime.testing.TestEngine;
import org.junit.jupiter.api.Test;

/** The box embedding's layout, independently of the golden files. */
class FourierEmbedderTest {

    @Test
    void indexKTimes8PlusSTimes4PlusCHoldsSinOrCosOfFrequencyKTimesCoordinateC() {
        int freqs = 8;
        float[] boxes = {0.1f, 0.25f, 0.6f, 0.95f, 0f, 0.5f, 1f, 0.75f};
        float[] expected = new float[2 * freqs * 8];
        for (int n = 0; n < 2; n++) {
            for (int k = 0; k < freqs; k++) {
                double f = Math.pow(100, k / 8.0);
                for (int c = 0; c < 4; c++) {
                    double angle = (float) f * boxes[4 * n + c];
                    expected[n * 64 + k * 8 + c] = (float) Math.sin(angle);
                    expected[n * 64 + k * 8 + 4 + c] = (float) Math.cos(angle);
                }
            }
        }
        try (NDManager m = TestEngine.manager().newSubManager()) {
            float[] actual = new FourierEmbedder(freqs).embed(m.create(boxes, new Shape(2, 4))).toFloatArray();
            assertArrayEquals(expected, actual, 1e-6f);
        }
    }
}

package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The Java-drawn noise: starting latents and each step's fresh noise, per image of a batch. */
class NoiseTest {
    private static final long[] BATCH = {2, 4, 8, 8};
    private static final long[] ONE = {1, 4, 8, 8};

    private static float[] second(float[] batch) {
        return Arrays.copyOfRange(batch, batch.length / 2, batch.length);
    }

    @Test
    void imageBOfABatchGetsWhatAGenerationOfSeedPlusBGets() {
        assertArrayEquals(Noise.gaussian(6, ONE), second(Noise.gaussian(5, BATCH)));
        assertArrayEquals(Noise.step(6, 3, ONE), second(Noise.step(5, 3, BATCH)));
    }

    @Test
    void eachStepHasValuesOfItsOwnDrawnFromTheSeed() {
        assertArrayEquals(Noise.step(5, 0, ONE), Noise.step(5, 0, ONE), "the same seed and step, the same values");
        float[] start = Noise.gaussian(5, ONE);
        float[][] steps = {Noise.step(5, 0, ONE), Noise.step(5, 1, ONE), Noise.step(6, 0, ONE)};
        for (float[] step : steps) {
            assertFalse(Arrays.equals(start, step), "a step's noise is not the starting noise");
        }
        assertFalse(Arrays.equals(steps[0], steps[1]), "nor another step's");
        assertFalse(Arrays.equals(steps[0], steps[2]), "nor another seed's");
        double sum = 0;
        double squares = 0;
        float[] many = Noise.step(5, 2, new long[] {1, 4, 64, 64});
        for (float v : many) {
            sum += v;
            squares += v * v;
        }
        double mean = sum / many.length;
        double variance = squares / many.length - mean * mean;
        assertTrue(Math.abs(mean) < 0.05 && Math.abs(variance - 1) < 0.05, "standard normal: mean " + mean
                + ", variance " + variance);
    }
}

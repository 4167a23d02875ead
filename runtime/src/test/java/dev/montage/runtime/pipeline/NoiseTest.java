package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.Variation;
import java.util.Arrays;
import java.util.Optional;
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

    /**
     * A variation's starting noise: at strength 0 the seed's, at 1 the variation seed's, image b of a batch that of
     * seed + b and variation seed + b, and in between A1111's slerp of each [C, H, W] image's columns along H.
     */
    @Test
    void aVariationInterpolatesTheStartingNoiseAsA1111Does() {
        assertArrayEquals(Noise.gaussian(5, ONE), Noise.starting(5, Optional.of(new Variation(9, 0)), ONE));
        assertArrayEquals(Noise.gaussian(9, ONE), Noise.starting(5, Optional.of(new Variation(9, 1)), ONE), 1e-6f);
        assertArrayEquals(Noise.gaussian(5, ONE), Noise.starting(5, Optional.empty(), ONE));
        assertArrayEquals(Noise.starting(6, Optional.of(new Variation(10, 0.3)), ONE),
                second(Noise.starting(5, Optional.of(new Variation(9, 0.3)), BATCH)));

        float[] low = Noise.gaussian(5, ONE);
        float[] high = Noise.gaussian(9, ONE);
        float[] varied = Noise.starting(5, Optional.of(new Variation(9, 0.3)), ONE);
        int h = 8;
        int w = 8;
        // channel 2, column x = 5: torch.norm(dim=1) over the 8 rows
        double nl = 0;
        double nh = 0;
        double dot = 0;
        for (int y = 0; y < h; y++) {
            int i = (2 * h + y) * w + 5;
            nl += low[i] * (double) low[i];
            nh += high[i] * (double) high[i];
            dot += low[i] * (double) high[i];
        }
        double omega = Math.acos(dot / Math.sqrt(nl * nh));
        for (int y = 0; y < h; y++) {
            int i = (2 * h + y) * w + 5;
            double expected = Math.sin(0.7 * omega) / Math.sin(omega) * low[i] + Math.sin(0.3 * omega)
                    / Math.sin(omega) * high[i];
            assertEquals(expected, varied[i], 1e-6);
        }
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

    /**
     * Seed resize (A1111's "Seed resize from"): the noise drawn at the other size, varied there, sits in the middle of
     * the seed's noise of the request's size, offsets halved with Python's floor division; where the request is
     * smaller its middle is cropped out, an odd difference leaving A1111's one row or column of the request's own
     * noise; the request's own size changes nothing.
     */
    @Test
    void aResizedSeedsNoiseSitsInTheMiddle() {
        long[] big = {2, 4, 11, 12};
        Optional<Variation> varied = Optional.of(new Variation(9, 0.3));
        float[] drawn = Noise.starting(5, varied, new long[] {2, 4, 8, 8});
        float[] own = Noise.gaussian(5, big);
        float[] resized = Noise.starting(5, varied, Optional.of(new int[] {8, 8}), big);
        for (int p = 0; p < 2 * 4; p++) {
            for (int y = 0; y < 11; y++) {
                for (int x = 0; x < 12; x++) {
                    // dy = (11 - 8) // 2 = 1, dx = (12 - 8) // 2 = 2
                    boolean inside = y >= 1 && y < 9 && x >= 2 && x < 10;
                    float expected = inside ? drawn[(p * 8 + y - 1) * 8 + x - 2] : own[(p * 11 + y) * 12 + x];
                    assertEquals(expected, resized[(p * 11 + y) * 12 + x], "plane " + p + " at " + y + "," + x);
                }
            }
        }
        long[] small = {1, 4, 5, 8};
        float[] larger = Noise.starting(5, Optional.empty(), new long[] {1, 4, 8, 8});
        float[] cropped = Noise.starting(5, Optional.empty(), Optional.of(new int[] {8, 8}), small);
        float[] smallOwn = Noise.gaussian(5, small);
        for (int p = 0; p < 4; p++) {
            for (int y = 0; y < 5; y++) {
                for (int x = 0; x < 8; x++) {
                    // dy = (5 - 8) // 2 = -2: rows 2..5 of the drawn noise fill rows 0..3, row 4 keeps its own
                    float expected = y < 4 ? larger[(p * 8 + y + 2) * 8 + x] : smallOwn[(p * 5 + y) * 8 + x];
                    assertEquals(expected, cropped[(p * 5 + y) * 8 + x], "plane " + p + " at " + y + "," + x);
                }
            }
        }
        assertArrayEquals(Noise.starting(5, varied, ONE), Noise.starting(5, varied, Optional.of(new int[] {8, 8}),
                ONE));
    }
}

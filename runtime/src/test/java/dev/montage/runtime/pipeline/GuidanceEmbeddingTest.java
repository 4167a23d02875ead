package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The guidance embedding against diffusers' {@code get_guidance_scale_embedding} run by torch (float32). */
class GuidanceEmbeddingTest {

    @Test
    void sinusoidsOfTheScaleLessOneAsTorchComputesThem() {
        // sines then cosines of 7000 · f_j; the large angles leave torch's float32 and Java's within a few 1e-6
        assertArrayEquals(new float[] {0.5068854093551636f, -0.7069665193557739f, 0.902342677116394f,
            -0.06035919114947319f, -0.9918180108070374f, -0.2971353232860565f, 0.507495641708374f, 0.6442176103591919f,
            0.8620134592056274f, 0.7072470188140869f, 0.4310193359851837f, -0.9981766939163208f, 0.12765993177890778f,
            -0.9548353552818298f, -0.8616543412208557f, 0.7648422122001648f}, GuidanceEmbedding.of(8.0, 16, 1), 1e-5f);
        float[] odd = GuidanceEmbedding.of(1.5, 9, 2);
        float[] expected = {-0.4677717983722687f, -0.9379929304122925f, 0.880642831325531f, 0.049979161471128464f,
            -0.8838492631912231f, -0.34665435552597046f, 0.47378072142601013f, 0.9987502694129944f, 0.0f};
        assertArrayEquals(expected, Arrays.copyOfRange(odd, 0, 9), 1e-5f, "an odd width ends in a zero");
        assertArrayEquals(expected, Arrays.copyOfRange(odd, 9, 18), 1e-5f, "every row the same");
        assertThrows(IllegalArgumentException.class, () -> GuidanceEmbedding.of(2, 3, 1));
    }
}

package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.runtime.testing.TestEngine;
import org.junit.jupiter.api.Test;

/** The latents of a hires pass's "Latent" upscaler: PyTorch's bilinear interpolate without corner alignment. */
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
            assertArrayEquals(expected, Pipeline.bilinear(x, 4, 4).toFloatArray(), 1e-6f);
            // to 3 x 2: source rows at (i + 0.5) * 2/3 - 0.5 = -1/6 (clamped to 0), 1/2, 7/6 (the last row alone);
            // columns kept
            assertArrayEquals(new float[] {0, 1, 1, 2, 2, 3}, Pipeline.bilinear(x.get("0:1, 0:1"), 3, 2)
                    .toFloatArray(), 1e-6f);
        }
    }
}

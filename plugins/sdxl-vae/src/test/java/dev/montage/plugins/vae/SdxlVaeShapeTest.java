package dev.montage.plugins.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Shapes, value ranges and the encoder on the tiny model. There is no golden tensor for the encoder (the
 * reference pipelines are text-to-image only), and with random weights decode(encode(x)) does not reconstruct
 * x, so the encoder is checked by shape, by its posterior algebra and by batch independence.
 */
class SdxlVaeShapeTest {
    private static SdxlVae vae;

    @BeforeAll
    static void load() {
        vae = new SdxlVae(TestEngine.folder(Golden.model().resolve("vae")), TestEngine.manager(), TestEngine.kernels(),
                TestEngine.dtype(), VaeOptions.DEFAULT);
    }

    @AfterAll
    static void close() {
        if (vae != null) {
            vae.close();
        }
    }

    static NDArray gaussian(NDManager m, long seed, long... shape) {
        Random random = new Random(seed);
        float[] values = new float[(int) new Shape(shape).size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return m.create(values, new Shape(shape));
    }

    static NDArray uniform(NDManager m, long seed, long... shape) {
        Random random = new Random(seed);
        float[] values = new float[(int) new Shape(shape).size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextFloat();
        }
        return m.create(values, new Shape(shape));
    }

    static void assertImage(NDArray image, Shape expected) {
        assertEquals(expected, image.getShape());
        assertEquals(DataType.FLOAT32, image.getDataType());
        for (float v : image.toFloatArray()) {
            assertTrue(v >= 0f && v <= 1f, "pixel outside 0..1: " + v);
        }
    }

    @Test
    void scaleFactorComesFromTheLevels() {
        assertEquals(8, vae.scaleFactor());
    }

    @Test
    void previewMapsEachLatentCellToRgbWithSdxlsFactors() {
        // ComfyUI's SDXL latent_rgb_factors, one row per latent channel, and their bias
        float[][] factors = {{0.3651f, 0.4232f, 0.4341f}, {-0.2533f, -0.0042f, 0.1068f},
            {0.1076f, 0.1111f, -0.0362f}, {-0.3165f, -0.2492f, -0.2188f}};
        float[] bias = {0.1084f, -0.0175f, -0.0011f};
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray latents = gaussian(m, 11, 2, 4, 3, 5).mul(2);
            float[] z = latents.toFloatArray();
            NDArray preview = vae.preview(m, latents).orElseThrow();
            assertEquals(new Shape(2, 3, 3, 5), preview.getShape());
            float[] rgb = preview.toFloatArray();
            int plane = 15;
            for (int b = 0; b < 2; b++) {
                for (int c = 0; c < 3; c++) {
                    for (int i = 0; i < plane; i++) {
                        float v = bias[c];
                        for (int k = 0; k < 4; k++) {
                            v += z[(b * 4 + k) * plane + i] * factors[k][c];
                        }
                        float expected = (Math.max(-1f, Math.min(1f, v)) + 1) / 2;
                        assertEquals(expected, rgb[(b * 3 + c) * plane + i], 1e-5f, "b" + b + " c" + c + " i" + i);
                    }
                }
            }
            assertThrows(IllegalArgumentException.class, () -> vae.preview(m, gaussian(m, 1, 1, 3, 2, 2)));
        }
    }

    @Test
    void decodesNonSquareLatents() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray latents = gaussian(m, 7, 2, 4, 5, 9);
            assertImage(vae.decode(m, latents), new Shape(2, 3, 40, 72));
        }
    }

    @Test
    void encodesToTheLatentGrid() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray images = uniform(m, 11, 2, 3, 64, 48);
            try (LatentDecoder.Posterior posterior = vae.encode(m, images)) {
                assertEquals(new Shape(2, 4, 8, 6), posterior.mean().getShape());
                assertEquals(new Shape(2, 4, 8, 6), posterior.std().getShape());
                assertEquals(DataType.FLOAT32, posterior.mean().getDataType());
                for (float s : posterior.std().toFloatArray()) {
                    assertTrue(s > 0f && Float.isFinite(s), "std " + s);
                }
                assertImage(vae.decode(m, posterior.mode()), new Shape(2, 3, 64, 48));
            }
        }
    }

    @Test
    void posteriorScalesModeAndSamples() {
        double sf = vae.config().scalingFactor();
        try (NDManager m = TestEngine.manager().newSubManager();
                LatentDecoder.Posterior posterior = vae.encode(m, uniform(m, 3, 1, 3, 32, 32))) {
            NDArray mode = posterior.mode();
            assertClose(posterior.mean().mul(sf), mode, 0);
            assertClose(mode, posterior.sample(m.zeros(mode.getShape())), 0);
            NDArray noise = gaussian(m, 5, 1, 4, 4, 4);
            assertClose(mode.add(posterior.std().mul(noise).mul(sf)), posterior.sample(noise), 1e-6);
            assertThrows(IllegalArgumentException.class, () -> posterior.sample(m.zeros(new Shape(1, 4, 4, 5))));
        }
    }

    @Test
    void encodingIsIndependentOfTheBatch() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray a = uniform(m, 21, 1, 3, 32, 40);
            NDArray b = uniform(m, 22, 1, 3, 32, 40);
            try (LatentDecoder.Posterior both = vae.encode(m, a.concat(b, 0));
                    LatentDecoder.Posterior alone = vae.encode(m, b)) {
                assertClose(alone.mean(), both.mean().get("1:2"), 1e-5);
                assertClose(alone.std(), both.std().get("1:2"), 1e-5);
            }
        }
    }

    @Test
    void rejectsMisshapenInputs() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            IllegalArgumentException latents = assertThrows(IllegalArgumentException.class,
                    () -> vae.decode(m, m.zeros(new Shape(1, 3, 8, 8))));
            assertTrue(latents.getMessage().contains("[B, 4, H, W]"), latents.getMessage());
            IllegalArgumentException images = assertThrows(IllegalArgumentException.class,
                    () -> vae.encode(m, m.zeros(new Shape(1, 3, 30, 32))));
            assertTrue(images.getMessage().contains("multiples of 8"), images.getMessage());
        }
    }

    @Test
    void callsLeaveOnlyTheirResultsBehind() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray latents = gaussian(m, 9, 2, 4, 3, 5);
            int before = m.getManagedArrays().size();
            vae.decode(m, latents);
            assertEquals(before + 1, m.getManagedArrays().size());
            assertSame(m, latents.getManager());
            NDArray images = uniform(m, 10, 1, 3, 16, 24);
            before = m.getManagedArrays().size();
            vae.encode(m, images);
            assertEquals(before + 2, m.getManagedArrays().size());
            assertSame(m, images.getManager());
        }
    }

    /** The encoder's downsampling relies on F.pad's order: (left, right, top, bottom) of the last two axes. */
    @Test
    void padAddsOneZeroRowAndColumnAtTheBottomRight() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(new float[] {1, 2, 3, 4}, new Shape(1, 1, 2, 2));
            NDArray padded = x.pad(new Shape(0, 1, 0, 1), 0);
            assertEquals(new Shape(1, 1, 3, 3), padded.getShape());
            assertClose(m.create(new float[] {1, 2, 0, 3, 4, 0, 0, 0, 0}, new Shape(1, 1, 3, 3)), padded, 0);
        }
    }

    static void assertClose(NDArray expected, NDArray actual, double atol) {
        assertEquals(expected.getShape(), actual.getShape());
        double diff = SdxlVaeGoldenTest.maxAbsDiff(expected.toFloatArray(), actual.toFloatArray());
        assertTrue(diff <= atol, "max-abs difference " + diff + " > " + atol);
    }
}

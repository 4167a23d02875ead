package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.GenerationContext;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.EncoderContext;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GuidanceDistilledUNet;
import dev.montage.runtime.testing.RandomTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.SafetensorsReader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guidance-distilled UNet ({@code time_cond_proj_dim}, as LCM-SDXL's): the tiny golden UNet with a random
 * {@code time_embedding.cond_proj}, whose time embedding is computed here in float64 from its weights.
 */
class GuidanceEmbeddingTest {
    private static final int WIDTH = 8;
    @TempDir
    static Path dir;
    private static SdxlUNet distilled;

    @BeforeAll
    static void load() throws IOException {
        GuidanceDistilledUNet.write(Golden.model().resolve("unet"), dir.resolve("unet"), WIDTH, 3);
        distilled = new SdxlUNet(TestEngine.folder(dir.resolve("unet")), TestEngine.manager(), TestEngine.kernels(),
                TestEngine.dtype());
    }

    @AfterAll
    static void close() {
        if (distilled != null) {
            distilled.close();
        }
    }

    @Test
    void theTimeEmbeddingAddsTheProjectedGuidanceToTheTimestepSinusoids() throws IOException {
        Random random = new Random(4);
        try (NDManager m = TestEngine.manager().newSubManager();
                StageCapture capture = new StageCapture(m);
                SafetensorsReader weights = SafetensorsReader.open(
                        dir.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            NDArray guidance = RandomTensors.gaussian(m, random, 2, WIDTH);
            GenerationContext ctx = GoldenModel.context(1);
            ctx.put(StageCapture.KEY, capture);
            NDArray out = distilled.predictNoise(m, input(m, random, guidance), ctx);
            assertEquals(new Shape(2, 4, 8, 8), out.getShape());
            float[] sinusoids = capture.stages().get("time_proj").toFloatArray();
            float[] embedding = capture.stages().get("time_embedding").toFloatArray();
            float[] condProj = weights.tensor(GuidanceDistilledUNet.COND_PROJ).toFloatArray();
            float[] w1 = weights.tensor("time_embedding.linear_1.weight").toFloatArray();
            float[] b1 = weights.tensor("time_embedding.linear_1.bias").toFloatArray();
            float[] w2 = weights.tensor("time_embedding.linear_2.weight").toFloatArray();
            float[] b2 = weights.tensor("time_embedding.linear_2.bias").toFloatArray();
            float[] g = guidance.toFloatArray();
            int in = sinusoids.length / 2;
            int hidden = b1.length;
            double error = 0;
            for (int b = 0; b < 2; b++) {
                double[] x = new double[in];
                for (int i = 0; i < in; i++) {
                    x[i] = sinusoids[b * in + i];
                    for (int j = 0; j < WIDTH; j++) {
                        x[i] += condProj[i * WIDTH + j] * g[b * WIDTH + j];
                    }
                }
                double[] h = new double[hidden];
                for (int o = 0; o < hidden; o++) {
                    double v = b1[o];
                    for (int i = 0; i < in; i++) {
                        v += w1[o * in + i] * x[i];
                    }
                    h[o] = v / (1 + Math.exp(-v));
                }
                for (int o = 0; o < hidden; o++) {
                    double v = b2[o];
                    for (int i = 0; i < hidden; i++) {
                        v += w2[o * hidden + i] * h[i];
                    }
                    error = Math.max(error, Math.abs(v - embedding[b * hidden + o]));
                }
            }
            System.out.printf("time embedding with a guidance condition vs float64: max-abs error %.3g%n", error);
            assertTrue(error < 1e-4, "max-abs error " + error);
        }
    }

    @Test
    void theGuidanceEmbeddingIsRequiredWhereTheUNetTakesOneAndRefusedElsewhere() {
        Random random = new Random(5);
        try (NDManager m = TestEngine.manager().newSubManager(); SdxlUNet plain = GoldenModel.unet()) {
            IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                    () -> distilled.predictNoise(m, input(m, random, null), GoldenModel.context(1)));
            assertEquals("UNet input 'guidance' must be [2, 8] for this UNet's configuration, got null",
                    missing.getMessage());
            NDArray guidance = RandomTensors.gaussian(m, random, 2, WIDTH);
            IllegalArgumentException unexpected = assertThrows(IllegalArgumentException.class,
                    () -> plain.predictNoise(m, input(m, random, guidance), GoldenModel.context(1)));
            assertTrue(unexpected.getMessage().contains("takes no guidance embedding"), unexpected.getMessage());
        }
    }

    @Test
    void theConfigurationNamesTheWidthAndTheWeightsHaveTheProjection() {
        UNetConfig config = UNetConfig.from(TestEngine.folder(dir.resolve("unet")).config());
        assertEquals(WIDTH, config.timeCondProjDim());
        assertEquals(new Shape(32, WIDTH),
                new Shape(SdxlUNet.weightShapes(config).get(GuidanceDistilledUNet.COND_PROJ)));
        assertEquals(0, GoldenModel.unetConfig().timeCondProjDim());
    }

    /** Random 8x8 latents and text for a batch of 2 (no guidance halves: a distilled UNet runs without CFG). */
    private static DenoisingInput input(NDManager m, Random random, NDArray guidance) {
        float[] ids = new float[12];
        for (int b = 0; b < 2; b++) {
            System.arraycopy(new float[] {64, 64, 0, 0, 64, 64}, 0, ids, b * 6, 6);
        }
        return new DenoisingInput(RandomTensors.gaussian(m, random, 2, 4, 8, 8), 500,
                EncoderContext.text(RandomTensors.gaussian(m, random, 2, 77, 64)),
                RandomTensors.gaussian(m, random, 2, 32), m.create(ids, new Shape(2, 6)), null, guidance);
    }
}

package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.EncoderContext;
import dev.montage.nn.DefaultAttention;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.RandomTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TorchCheckpointSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Multi-subject attention in every cross-attention layer of the tiny SDXL UNet: the fused processor against the
 * official algorithm at any latent size, and what a generation's calls leave behind.
 */
class MultiSubjectUNetTest {
    private static FolderComponentContext model;
    private static DenoisingModel unet;
    private static MultiSubjectAttention multiSubject;
    private static TorchCheckpointSource adapterSource;

    @BeforeAll
    static void load() {
        model = TestContext.model(TestEngine.engine());
        unet = GoldenModel.unet(model);
        multiSubject = GoldenModel.multiSubject();
        adapterSource = GoldenModel.adapterCheckpoint();
    }

    @AfterAll
    static void close() {
        for (AutoCloseable c : new AutoCloseable[] {multiSubject, adapterSource, model}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @ParameterizedTest(name = "latents {0}x{1}")
    @CsvSource({"8,8", "16,12", "12,16", "9,7", "6,10"})
    void anyLatentSizeRunsWithLayoutMasksOnItsOwnGrid(int height, int width) {
        Random random = new Random(height * 31L + width);
        TestLayout layout = GoldenModel.layout(new float[][][] {new float[2][4],
                {MultiSubjectAttentionTest.randomBox(random), MultiSubjectAttentionTest.randomBox(random)}}, 0.6, null);
        Map<String, AttentionProcessor> reference = referenceProcessors(layout);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput input = randomInput(m, random, height, width, layout);
            GenerationContext ctx = GoldenModel.context(1);
            unet.useAttentionProcessors(name -> multiSubject);
            NDArray fused = unet.predictNoise(m, input, ctx);
            unet.useAttentionProcessors(reference::get);
            NDArray official = unet.predictNoise(m, input, ctx);
            assertEquals(new Shape(2, 4, height, width), fused.getShape());
            double error = GoldenTensors.maxAbsDiff(official.toFloatArray(), fused.toFloatArray());
            System.out.printf("UNet on %dx%d latents: fused vs official multi-subject attention %.3g%n", height, width,
                    error);
            assertTrue(error <= 1e-5, "fused and official attention differ by " + error);
        } finally {
            unet.useAttentionProcessors(name -> DefaultAttention.INSTANCE);
        }
    }

    @Test
    void aCallLeavesOnlyItsOutputAndTheGenerationsMasksAndProjectionsBehind() {
        Random random = new Random(2);
        TestLayout layout = GoldenModel.layout(new float[][][] {new float[1][4],
                {MultiSubjectAttentionTest.randomBox(random)}}, 0.6, null);
        unet.useAttentionProcessors(name -> multiSubject);
        try {
            try (NDManager warmUp = TestEngine.manager().newSubManager()) {
                unet.predictNoise(warmUp, randomInput(warmUp, random, 8, 8, layout), GoldenModel.context(1));
            }
            int engine = TestEngine.manager().getManagedArrays().size();
            try (NDManager m = TestEngine.manager().newSubManager()) {
                DenoisingInput input = randomInput(m, random, 8, 8, layout);
                GenerationContext ctx = GoldenModel.context(2);
                int inputs = m.getManagedArrays().size();
                NDArray first = unet.predictNoise(m, input, ctx);
                int afterFirst = m.getManagedArrays().size();
                NDArray second = unet.predictNoise(m, input, ctx);
                assertArrayEquals(first.toFloatArray(), second.toFloatArray());
                int crossLayers = (int) unet.attentionLayers().stream().filter(AttentionLayerSpec::isCrossAttention)
                        .count();
                assertEquals(inputs + 1 + 2 + 4 * crossLayers, afterFirst, "the output, bias + row weights of the one "
                        + "4x4 grid, and each cross-attention's text and image keys and values");
                assertEquals(afterFirst + 1, m.getManagedArrays().size(), "later steps add only their output");
            }
            assertEquals(engine, TestEngine.manager().getManagedArrays().size());
        } finally {
            unet.useAttentionProcessors(name -> DefaultAttention.INSTANCE);
        }
    }

    /** The official algorithm for every cross-attention layer, with that layer's adapter weights. */
    private static Map<String, AttentionProcessor> referenceProcessors(TestLayout layout) {
        ModelWeights adapter = GoldenModel.adapterWeights(adapterSource);
        Map<String, AttentionProcessor> out = new HashMap<>();
        List<AttentionLayerSpec> layers = unet.attentionLayers();
        for (int i = 0; i < layers.size(); i++) {
            String name = layers.get(i).name();
            if (!layers.get(i).isCrossAttention()) {
                out.put(name, DefaultAttention.INSTANCE);
                continue;
            }
            NDArray k = adapter.get(i + ".to_k_ip.weight", TestEngine.manager());
            NDArray v = adapter.get(i + ".to_v_ip.weight", TestEngine.manager());
            out.put(name, (layer, hidden, context, gh, gw, ctx) -> ReferenceAttention.forward(layer, k, v,
                    hidden, TestLayout.joined(context), gh, gw, layout));
        }
        return out;
    }

    /** CFG-doubled random latents, text and subject tokens that are zero in the unconditional row. */
    private static DenoisingInput randomInput(NDManager m, Random random, int height, int width, TestLayout layout) {
        NDArray latents = RandomTensors.gaussian(m, random, 2, 4, height, width);
        NDArray text = RandomTensors.gaussian(m, random, 2, 77, 64);
        NDArray image = RandomTensors.gaussian(m, random, 1, layout.imageTokens(), 64);
        EncoderContext context = layout.split(text.concat(m.zeros(image.getShape()).concat(image, 0), 1));
        NDArray pooled = RandomTensors.gaussian(m, random, 2, 32);
        float[] ids = new float[12];
        for (int b = 0; b < 2; b++) {
            System.arraycopy(new float[] {height * 8, width * 8, 0, 0, height * 8, width * 8}, 0, ids, b * 6, 6);
        }
        return new DenoisingInput(latents, 500 + random.nextInt(400), context, pooled, m.create(ids, new Shape(2, 6)),
                null);
    }
}

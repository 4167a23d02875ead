package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.DenoisingModel.ControlResiduals;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.EncoderContext;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TorchCheckpointSource;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The UNet's shapes, grids, processor wiring, ControlNet residuals and memory use on the tiny golden model. */
class SdxlUNetTest {
    private static SdxlUNet unet;
    private static MultiSubjectAttention multiSubject;
    private static TorchCheckpointSource adapterSource;

    @BeforeAll
    static void load() {
        unet = GoldenModel.unet();
        multiSubject = GoldenModel.multiSubject(unet);
        adapterSource = GoldenModel.adapterCheckpoint();
    }

    @AfterAll
    static void close() {
        for (AutoCloseable c : new AutoCloseable[] {unet, multiSubject, adapterSource}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @Test
    void attentionLayersAreInTheAdaptersProcessorOrder() throws IOException {
        JsonNode map = new ObjectMapper().readTree(Golden.model().resolve("ms_adapter_config.json").toFile())
                .get("adapter_modules_index_to_processor");
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < map.size(); i++) {
            expected.add(map.get(String.valueOf(i)).asText().replaceFirst("\\.processor$", ""));
        }
        assertEquals(expected, unet.attentionLayers());
        assertEquals(expected, unet.config().attentionLayers().stream().map(UNetConfig.AttentionSpec::name).toList());
        assertEquals(4, unet.latentChannels());
        assertEquals(64, unet.crossAttentionDim());
    }

    @ParameterizedTest(name = "latents {0}x{1}: transformer grid {2}x{3}")
    @CsvSource({"8,8,4,4", "16,12,8,6", "12,16,6,8", "9,7,5,4", "6,10,3,5"})
    void anyLatentSizeRunsWithLayoutMasksOnItsOwnGrid(int height, int width, int gridHeight, int gridWidth) {
        Random random = new Random(height * 31L + width);
        TestLayout layout = GoldenModel.layout(new float[][][] {new float[2][4],
                {MultiSubjectAttentionTest.randomBox(random), MultiSubjectAttentionTest.randomBox(random)}}, 0.6, null);
        Set<String> grids = Collections.synchronizedSet(new TreeSet<>());
        Map<String, AttentionProcessor> reference = referenceProcessors(layout);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput input = randomInput(m, random, height, width, layout);
            GenerationContext ctx = GoldenModel.context(1);
            unet.useAttentionProcessors(name -> recording(multiSubject, grids));
            NDArray fused = unet.predictNoise(m, input, ctx);
            unet.useAttentionProcessors(reference::get);
            NDArray official = unet.predictNoise(m, input, ctx);
            assertEquals(new Shape(2, 4, height, width), fused.getShape());
            assertEquals(Set.of(gridHeight + "x" + gridWidth + " over " + gridHeight * gridWidth + " tokens"), grids);
            double error = GoldenTensors.maxAbsDiff(official.toFloatArray(), fused.toFloatArray());
            System.out.printf("UNet on %dx%d latents: fused vs official multi-subject attention %.3g%n", height, width,
                    error);
            assertTrue(error <= 1e-5, "fused and official attention differ by " + error);
        } finally {
            unet.useAttentionProcessors(name -> DefaultAttention.INSTANCE);
        }
    }

    @Test
    void controlNetResidualsAreAddedToTheSkipsAfterTheDownPathAndToTheMidBlock() {
        Random random = new Random(21);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput plain = randomInput(m, random, 8, 8, null);
            List<NDArray> zeros = new ArrayList<>();
            for (Shape s : skipShapes()) {
                zeros.add(m.zeros(s));
            }
            NDArray base = unet.predictNoise(m, plain, GoldenModel.context(1));
            NDArray withZeros = unet.predictNoise(m, withControl(plain, zeros, m.zeros(new Shape(2, 64, 4, 4))),
                    GoldenModel.context(1));
            assertArrayEquals(base.toFloatArray(), withZeros.toFloatArray());

            List<NDArray> residuals = new ArrayList<>();
            for (Shape s : skipShapes()) {
                residuals.add(MultiSubjectAttentionTest.randomArray(m, random, s.getShape()));
            }
            NDArray mid = MultiSubjectAttentionTest.randomArray(m, random, 2, 64, 4, 4);
            Map<String, float[]> without = stages(m, plain);
            Map<String, float[]> with = stages(m, withControl(plain, residuals, mid));
            for (String name : List.of("conv_in", "down_blocks.0", "down_blocks.1", "mid_block")) {
                assertArrayEquals(without.get(name), with.get(name), name + " runs before any residual");
            }
            for (String name : List.of("up_blocks.0.resnets.0", "up_blocks.0", "up_blocks.1", "conv_norm_out")) {
                assertTrue(GoldenTensors.maxAbsDiff(without.get(name), with.get(name)) > 1e-3, name);
            }

            IllegalArgumentException count = assertThrows(IllegalArgumentException.class, () -> unet.predictNoise(m,
                    withControl(plain, residuals.subList(0, 5), mid), GoldenModel.context(1)));
            assertTrue(count.getMessage().contains("5 down residuals") && count.getMessage().contains("6 skip"),
                    count.getMessage());
            List<NDArray> swapped = new ArrayList<>(residuals);
            Collections.swap(swapped, 0, 5);
            IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> unet.predictNoise(m,
                    withControl(plain, swapped, mid), GoldenModel.context(1)));
            assertTrue(shape.getMessage().contains("down[0]"), shape.getMessage());
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
                GenerationContext ctx = GoldenModel.context(1);
                unet.predictNoise(warmUp, randomInput(warmUp, random, 8, 8, layout), ctx);
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
                int crossLayers = (int) unet.config().attentionLayers().stream()
                        .filter(UNetConfig.AttentionSpec::isCrossAttention).count();
                assertEquals(inputs + 1 + 2 + 4 * crossLayers, afterFirst, "the output, bias + row weights of the one "
                        + "4x4 grid, and each cross-attention's text and image keys and values");
                assertEquals(afterFirst + 1, m.getManagedArrays().size(), "later steps add only their output");
            }
            assertEquals(engine, TestEngine.manager().getManagedArrays().size());
        } finally {
            unet.useAttentionProcessors(name -> DefaultAttention.INSTANCE);
        }
    }

    @Test
    void inputsThatDoNotFitAreRejected() {
        Random random = new Random(4);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput good = randomInput(m, random, 8, 8, null);
            DenoisingInput channels = new DenoisingInput(m.zeros(new Shape(2, 3, 8, 8)), 1, good.context(),
                    good.pooled(), good.timeIds(), null);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> unet.predictNoise(m, channels,
                    GoldenModel.context(1))).getMessage().contains("[B, 4, h, w]"));
            DenoisingInput width = new DenoisingInput(good.latents(), 1, EncoderContext.text(m.zeros(new Shape(2, 77, 32))),
                    good.pooled(),
                    good.timeIds(), null);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> unet.predictNoise(m, width,
                    GoldenModel.context(1))).getMessage().contains("[2, S, 64]"));
            DenoisingInput ids = new DenoisingInput(good.latents(), 1, good.context(), good.pooled(),
                    m.zeros(new Shape(2, 5)), null);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> unet.predictNoise(m, ids,
                    GoldenModel.context(1))).getMessage().contains("'timeIds' must be [2, 6]"));
        }
        NullPointerException none = assertThrows(NullPointerException.class,
                () -> unet.useAttentionProcessors(name -> name.endsWith("attn2") ? null : DefaultAttention.INSTANCE));
        assertTrue(none.getMessage().contains("down_blocks.1.attentions.0.transformer_blocks.0.attn2"),
                none.getMessage());
    }

    /** The official algorithm for every cross-attention layer, with that layer's adapter weights. */
    private static Map<String, AttentionProcessor> referenceProcessors(TestLayout layout) {
        ModelWeights adapter = GoldenModel.adapterWeights(adapterSource);
        Map<String, AttentionProcessor> out = new HashMap<>();
        List<String> names = unet.attentionLayers();
        for (int i = 0; i < names.size(); i++) {
            if (!names.get(i).endsWith("attn2")) {
                out.put(names.get(i), DefaultAttention.INSTANCE);
                continue;
            }
            NDArray k = adapter.get(i + ".to_k_ip.weight", TestEngine.manager());
            NDArray v = adapter.get(i + ".to_v_ip.weight", TestEngine.manager());
            out.put(names.get(i), (layer, hidden, context, gh, gw, ctx) -> ReferenceAttention.forward(layer, k, v,
                    hidden, TestLayout.joined(context), gh, gw, layout));
        }
        return out;
    }

    private static AttentionProcessor recording(AttentionProcessor delegate, Set<String> grids) {
        return (AttentionLayer layer, NDArray hidden, EncoderContext context, int gh, int gw, GenerationContext ctx) -> {
            grids.add(gh + "x" + gw + " over " + hidden.getShape().get(1) + " tokens");
            return delegate.forward(layer, hidden, context, gh, gw, ctx);
        };
    }

    private static Map<String, float[]> stages(NDManager m, DenoisingInput input) {
        try (StageCapture capture = new StageCapture(m)) {
            GenerationContext ctx = GoldenModel.context(1);
            ctx.put(StageCapture.KEY, capture);
            unet.predictNoise(m, input, ctx);
            Map<String, float[]> out = new HashMap<>();
            capture.stages().forEach((k, v) -> out.put(k, v.toFloatArray()));
            return out;
        }
    }

    /** The six skip connections of the tiny UNet at 8x8 latents. */
    private static List<Shape> skipShapes() {
        return List.of(new Shape(2, 32, 8, 8), new Shape(2, 32, 8, 8), new Shape(2, 32, 8, 8), new Shape(2, 32, 4, 4),
                new Shape(2, 64, 4, 4), new Shape(2, 64, 4, 4));
    }

    private static DenoisingInput withControl(DenoisingInput in, List<NDArray> down, NDArray mid) {
        return new DenoisingInput(in.latents(), in.timestep(), in.context(), in.pooled(), in.timeIds(),
                new ControlResiduals(down, mid));
    }

    /** CFG-doubled random latents and text; with a layout, subject tokens that are zero in the unconditional row. */
    private static DenoisingInput randomInput(NDManager m, Random random, int height, int width, TestLayout layout) {
        NDArray latents = MultiSubjectAttentionTest.randomArray(m, random, 2, 4, height, width);
        NDArray text = MultiSubjectAttentionTest.randomArray(m, random, 2, 77, 64);
        EncoderContext context = EncoderContext.text(text);
        if (layout != null) {
            NDArray image = MultiSubjectAttentionTest.randomArray(m, random, 1, layout.imageTokens(), 64);
            context = layout.split(text.concat(m.zeros(image.getShape()).concat(image, 0), 1));
        }
        NDArray pooled = MultiSubjectAttentionTest.randomArray(m, random, 2, 32);
        float[] ids = new float[12];
        for (int b = 0; b < 2; b++) {
            System.arraycopy(new float[] {height * 8, width * 8, 0, 0, height * 8, width * 8}, 0, ids, b * 6, 6);
        }
        return new DenoisingInput(latents, 500 + random.nextInt(400), context, pooled, m.create(ids, new Shape(2, 6)),
                null);
    }
}

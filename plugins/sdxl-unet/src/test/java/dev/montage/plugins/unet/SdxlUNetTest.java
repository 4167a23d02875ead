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
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.DenoisingModel.ControlResiduals;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.EncoderContext;
import dev.montage.nn.DefaultAttention;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.RandomTensors;
import dev.montage.runtime.testing.TestEngine;
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

    @BeforeAll
    static void load() {
        unet = GoldenModel.unet();
    }

    @AfterAll
    static void close() {
        if (unet != null) {
            unet.close();
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
        assertEquals(expected, unet.attentionLayers().stream().map(AttentionLayerSpec::name).toList());
        assertEquals(unet.attentionLayers(), SdxlUNet.attentionLayers(unet.config()),
                "the layers declared without weights are the loaded ones");
        assertEquals(new AttentionLayerSpec("down_blocks.1.attentions.0.transformer_blocks.0.attn2", 64, 4, 64),
                unet.attentionLayers().get(1));
        assertEquals(4, unet.latentChannels());
        assertEquals(64, unet.crossAttentionDim());
    }

    @ParameterizedTest(name = "latents {0}x{1}: transformer grid {2}x{3}")
    @CsvSource({"8,8,4,4", "16,12,8,6", "12,16,6,8", "9,7,5,4", "6,10,3,5"})
    void anyLatentSizeRunsWithAttentionOnItsOwnGrid(int height, int width, int gridHeight, int gridWidth) {
        Random random = new Random(height * 31L + width);
        Set<String> grids = Collections.synchronizedSet(new TreeSet<>());
        try (NDManager m = TestEngine.manager().newSubManager()) {
            unet.useAttentionProcessors(name -> recording(DefaultAttention.INSTANCE, grids));
            NDArray out = unet.predictNoise(m, randomInput(m, random, height, width), GoldenModel.context(1));
            assertEquals(new Shape(2, 4, height, width), out.getShape());
            assertEquals(Set.of(gridHeight + "x" + gridWidth + " over " + gridHeight * gridWidth + " tokens"), grids);
        } finally {
            unet.useAttentionProcessors(name -> DefaultAttention.INSTANCE);
        }
    }

    @Test
    void controlNetResidualsAreAddedToTheSkipsAfterTheDownPathAndToTheMidBlock() {
        Random random = new Random(21);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput plain = randomInput(m, random, 8, 8);
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
                residuals.add(RandomTensors.gaussian(m, random, s.getShape()));
            }
            NDArray mid = RandomTensors.gaussian(m, random, 2, 64, 4, 4);
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
    void aCallLeavesOnlyItsOutputAndTheGenerationsProjectionsBehind() {
        Random random = new Random(2);
        try (NDManager warmUp = TestEngine.manager().newSubManager()) {
            unet.predictNoise(warmUp, randomInput(warmUp, random, 8, 8), GoldenModel.context(1));
        }
        int engine = TestEngine.manager().getManagedArrays().size();
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput input = randomInput(m, random, 8, 8);
            GenerationContext ctx = GoldenModel.context(2);
            int inputs = m.getManagedArrays().size();
            NDArray first = unet.predictNoise(m, input, ctx);
            int afterFirst = m.getManagedArrays().size();
            NDArray second = unet.predictNoise(m, input, ctx);
            assertArrayEquals(first.toFloatArray(), second.toFloatArray());
            int crossLayers = (int) unet.attentionLayers().stream().filter(AttentionLayerSpec::isCrossAttention)
                    .count();
            assertEquals(inputs + 1 + 2 * crossLayers, afterFirst,
                    "the output and each cross-attention's text keys and values");
            assertEquals(afterFirst + 1, m.getManagedArrays().size(), "later steps add only their output");
        }
        assertEquals(engine, TestEngine.manager().getManagedArrays().size());
    }

    @Test
    void preparingProjectsEveryCrossAttentionsContextSoTheFirstStepAddsOnlyItsOutput() {
        Random random = new Random(4);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput input = randomInput(m, random, 8, 8);
            NDArray unprepared = unet.predictNoise(m, input, GoldenModel.context(2));
            GenerationContext ctx = GoldenModel.context(2);
            int before = m.getManagedArrays().size();
            unet.prepare(input.context(), ctx);
            int crossLayers = (int) unet.attentionLayers().stream().filter(AttentionLayerSpec::isCrossAttention)
                    .count();
            assertEquals(before + 2 * crossLayers, m.getManagedArrays().size(),
                    "each cross-attention's text keys and values");
            NDArray first = unet.predictNoise(m, input, ctx);
            assertEquals(before + 2 * crossLayers + 1, m.getManagedArrays().size(), "the first step adds its output");
            assertArrayEquals(unprepared.toFloatArray(), first.toFloatArray());
        }
    }

    @Test
    void inputsThatDoNotFitAreRejected() {
        Random random = new Random(4);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput good = randomInput(m, random, 8, 8);
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

    /** CFG-doubled random latents and text. */
    static DenoisingInput randomInput(NDManager m, Random random, int height, int width) {
        NDArray latents = RandomTensors.gaussian(m, random, 2, 4, height, width);
        EncoderContext context = EncoderContext.text(RandomTensors.gaussian(m, random, 2, 77, 64));
        NDArray pooled = RandomTensors.gaussian(m, random, 2, 32);
        float[] ids = new float[12];
        for (int b = 0; b < 2; b++) {
            System.arraycopy(new float[] {height * 8, width * 8, 0, 0, height * 8, width * 8}, 0, ids, b * 6, 6);
        }
        return new DenoisingInput(latents, 500 + random.nextInt(400), context, pooled, m.create(ids, new Shape(2, 6)),
                null);
    }
}

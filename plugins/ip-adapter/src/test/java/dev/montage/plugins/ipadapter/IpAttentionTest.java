package dev.montage.plugins.ipadapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.Box;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.spi.EncoderContext;
import dev.montage.nn.Attention;
import dev.montage.nn.DefaultAttention;
import dev.montage.nn.IpProjections;
import dev.montage.nn.Weights;
import dev.montage.plugins.unet.SdxlUNetFactory;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.RandomTensors;
import dev.montage.runtime.testing.TestEngine;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The decoupled attention of one golden cross-attention layer: scale 0 is plain attention bit for bit, one image
 * prompt attends the same jointly or on its own, a box keeps the image attention inside it, and several image prompts
 * with their own scales add up.
 */
class IpAttentionTest {
    /** Entry 1 of the adapter: the first cross-attention of the tiny UNet (64 channels, 4 heads, context 64). */
    private static final String LAYER = "down_blocks.1.attentions.0.transformer_blocks.0.attn2";
    private static final int WIDTH = 64;

    private static NDManager weights;
    private static FolderComponentContext context;
    private static Attention layer;
    private static IpAttention attention;

    @BeforeAll
    static void load() {
        weights = TestEngine.manager().newSubManager();
        Weights p = Weights.loading(TestEngine.folder(Golden.model().resolve("unet")).weights(), weights,
                TestEngine.kernels());
        layer = new Attention(p.prefixed(LAYER), LAYER, WIDTH, 4, WIDTH, TestEngine.kernels());
        context = IpAdapterGoldenTest.context("ip-adapter_tiny.bin");
        IpAdapterCheckpoint checkpoint = IpAdapterCheckpoint.of(context.checkpoint(IpAdapterCheckpoint.KEY));
        attention = new IpAttention(IpProjections.bind(checkpoint.adapter(), new SdxlUNetFactory().attentionLayers(
                Map.of("unet", context.model("unet").config())), weights, IpAdapterCheckpoint.KEY));
    }

    @AfterAll
    static void close() {
        if (attention != null) {
            attention.close();
        }
        if (context != null) {
            context.close();
        }
        if (weights != null) {
            weights.close();
        }
    }

    @Test
    void scaleZeroIsPlainAttentionBitForBit() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            Random random = new Random(1);
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 16, WIDTH);
            NDArray text = RandomTensors.gaussian(m, random, 2, 77, WIDTH);
            NDArray image = RandomTensors.gaussian(m, random, 2, 8, WIDTH);
            float[] plain = DefaultAttention.INSTANCE.forward(layer, hidden, EncoderContext.text(text), 4, 4,
                    context(1)).toFloatArray();
            assertArrayEquals(plain, run(hidden, text, image, 2, 0.0, Optional.empty(), Box.NONE, Box.NONE));
            assertArrayEquals(plain, run(hidden, text, image, 2, 0.7, Optional.of(new double[] {0, 0}), Box.NONE,
                    Box.NONE));
        }
    }

    @Test
    void oneImagePromptAttendsTheSameJointlyOrOnItsOwn() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            Random random = new Random(2);
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 24, WIDTH);
            NDArray text = RandomTensors.gaussian(m, random, 2, 77, WIDTH);
            NDArray image = RandomTensors.gaussian(m, random, 2, 4, WIDTH);
            float[] joint = run(hidden, text, image, 1, 0.7, Optional.empty(), Box.NONE);
            float[] own = run(hidden, text, image, 1, 0.3, Optional.of(new double[] {0.7}), Box.NONE);
            assertEquals(0.0, GoldenTensors.maxAbsDiff(joint, own));
            float[] plain = DefaultAttention.INSTANCE.forward(layer, hidden, EncoderContext.text(text), 4, 6,
                    context(1)).toFloatArray();
            assertTrue(GoldenTensors.maxAbsDiff(joint, plain) > 1e-3, "the image prompt changes the output");
        }
    }

    @Test
    void aBoxKeepsTheImageAttentionInsideIt() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            Random random = new Random(3);
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 16, WIDTH);
            NDArray text = RandomTensors.gaussian(m, random, 2, 77, WIDTH);
            NDArray image = RandomTensors.gaussian(m, random, 2, 4, WIDTH);
            float[] plain = DefaultAttention.INSTANCE.forward(layer, hidden, EncoderContext.text(text), 4, 4,
                    context(1)).toFloatArray();
            float[] whole = run(hidden, text, image, 1, 0.7, Optional.empty(), Box.NONE);
            float[] left = run(hidden, text, image, 1, 0.7, Optional.empty(), new Box(0, 0, 0.5, 1));
            for (int row = 0; row < 2; row++) {
                for (int position = 0; position < 16; position++) {
                    boolean inside = position % 4 < 2;
                    for (int c = 0; c < WIDTH; c++) {
                        int i = (row * 16 + position) * WIDTH + c;
                        assertEquals(inside ? whole[i] : plain[i], left[i], "row " + row + " position " + position);
                    }
                }
            }
        }
    }

    @Test
    void imagePromptsWithTheirOwnScalesAddUp() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            Random random = new Random(4);
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 16, WIDTH);
            NDArray text = RandomTensors.gaussian(m, random, 2, 77, WIDTH);
            NDArray first = RandomTensors.gaussian(m, random, 2, 4, WIDTH);
            NDArray second = RandomTensors.gaussian(m, random, 2, 4, WIDTH);
            float[] plain = DefaultAttention.INSTANCE.forward(layer, hidden, EncoderContext.text(text), 4, 4,
                    context(1)).toFloatArray();
            float[] a = run(hidden, text, first, 1, 0, Optional.of(new double[] {0.5}), Box.NONE);
            float[] b = run(hidden, text, second, 1, 0, Optional.of(new double[] {0.9}), Box.NONE);
            float[] both = run(hidden, text, first.concat(second, 1), 2, 0, Optional.of(new double[] {0.5, 0.9}),
                    Box.NONE, Box.NONE);
            // before to_out the image terms add; to_out is linear, so they add after it too, up to rounding
            float[] expected = new float[plain.length];
            for (int i = 0; i < plain.length; i++) {
                expected[i] = a[i] + b[i] - plain[i];
            }
            assertTrue(GoldenTensors.maxAbsDiff(expected, both) < 1e-4);
        }
    }

    @Test
    void boxWeightsCoverTheGridPositionsWhoseCentreIsInside() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            float[] w = IpAttention.weights(m, new Box(0.25, 0, 0.75, 0.5), 0.5, 2, 4, TestEngine.kernels(),
                    ComputeDType.FLOAT32).toFloatArray();
            assertArrayEquals(new float[] {0, 0.5f, 0.5f, 0, 0, 0, 0, 0}, w);
        }
    }

    @Test
    void aLayerOfAnotherModelIsNamed() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            Attention other = new Attention(Weights.shapesInto(new HashMap<>()), "other.attn2", WIDTH, 4,
                    WIDTH, TestEngine.kernels());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> attention.forward(other,
                    RandomTensors.gaussian(m, new Random(5), 2, 16, WIDTH),
                    EncoderContext.text(RandomTensors.gaussian(m, new Random(6), 2, 77, WIDTH)), 4, 4, context(1)));
            assertTrue(e.getMessage().contains("ip_adapter has no projections for layer other.attn2"), e.getMessage());
        }
    }

    private static float[] run(NDArray hidden, NDArray text, NDArray image, int subjects, double scale,
            Optional<double[]> subjectScales, Box... boxes) {
        SubjectConditioning conditioning = new SubjectConditioning(image, 1, 0, (int) image.getShape().get(1)
                / subjects, List.of(boxes), scale, subjectScales, List.of(), -1, Optional.empty());
        long positions = hidden.getShape().get(1);
        int gridHeight = 4;
        return attention.forward(layer, hidden, new EncoderContext(text, Optional.of(conditioning)), gridHeight,
                (int) positions / gridHeight, context(1)).toFloatArray();
    }

    private static GenerationContext context(int steps) {
        return new GenerationContext(GenerationRequest.builder("test").steps(steps).build());
    }
}

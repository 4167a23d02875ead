package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.GenerationContext;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.EncoderContext;
import dev.montage.nn.Attention;
import dev.montage.nn.DotProductAttention;
import dev.montage.nn.Weights;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.RandomTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TorchCheckpointSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused multi-subject attention of one golden cross-attention layer against the official algorithm written out
 * ({@link ReferenceAttention}), on square and rectangular grids, 1 to 4 subjects, global and per-subject scales,
 * zero boxes; and its per-generation state.
 */
class MultiSubjectAttentionTest {
    /** Entry 1 of the adapter: the first cross-attention of the tiny UNet (64 channels, 4 heads, context 64). */
    private static final String LAYER = "down_blocks.1.attentions.0.transformer_blocks.0.attn2";
    private static final int INDEX = 1;
    private static final int WIDTH = 64;

    private static NDManager weights;
    private static TorchCheckpointSource adapterSource;
    private static Attention layer;
    private static NDArray kIp;
    private static NDArray vIp;
    private static MultiSubjectAttention attention;
    private static List<AttentionLayerSpec> layers;

    @BeforeAll
    static void load() {
        weights = TestEngine.manager().newSubManager();
        Weights p = Weights.loading(TestEngine.folder(Golden.model().resolve("unet")).weights(), weights,
                TestEngine.kernels());
        layer = new Attention(p.prefixed(LAYER), LAYER, WIDTH, 4, WIDTH, TestEngine.kernels());
        adapterSource = GoldenModel.adapterCheckpoint();
        ModelWeights adapter = GoldenModel.adapterWeights(adapterSource);
        kIp = adapter.get(INDEX + ".to_k_ip.weight", weights);
        vIp = adapter.get(INDEX + ".to_v_ip.weight", weights);
        layers = GoldenModel.unetLayers();
        attention = MultiSubjectAttention.bind(adapter, layers, weights);
    }

    @AfterAll
    static void close() {
        if (attention != null) {
            attention.close();
        }
        if (weights != null) {
            weights.close();
        }
        if (adapterSource != null) {
            adapterSource.close();
        }
    }

    static Stream<Arguments> layouts() {
        return Stream.of(
                Arguments.of(1, 4, 4, false), Arguments.of(2, 4, 4, false), Arguments.of(3, 8, 6, false),
                Arguments.of(4, 8, 6, false), Arguments.of(2, 6, 8, true), Arguments.of(4, 5, 3, true),
                Arguments.of(1, 7, 9, true));
    }

    @ParameterizedTest(name = "{0} subjects on {1}x{2}, per-subject scales {3}")
    @MethodSource("layouts")
    void fusedAttentionEqualsTheOfficialAlgorithm(int subjects, int gridHeight, int gridWidth, boolean perSubject) {
        Random random = new Random(31L * subjects + gridHeight * 7L + gridWidth);
        float[][][] boxes = new float[2][subjects][];
        for (int j = 0; j < subjects; j++) {
            boxes[0][j] = new float[4];
            boxes[1][j] = randomBox(random);
        }
        double[] scales = perSubject ? random.doubles(subjects, 0.2, 1.5).toArray() : null;
        TestLayout layout = GoldenModel.layout(boxes, 0.6, scales);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, gridHeight * gridWidth, WIDTH);
            NDArray context = cfgContext(m, random, layout);
            GenerationContext ctx = GoldenModel.context(1);
            NDArray fused = attention.forward(layer, hidden, layout.split(context), gridHeight, gridWidth, ctx);
            NDArray reference = ReferenceAttention.forward(layer, kIp, vIp, hidden, context, gridHeight, gridWidth,
                    layout);
            double error = GoldenTensors.maxAbsDiff(reference.toFloatArray(), fused.toFloatArray());
            NDArray textOnly = TestLayout.textAttention(layer, hidden, context.get(new NDIndex(":, :77")));
            double imageShare = GoldenTensors.maxAbsDiff(textOnly.get(1).toFloatArray(), fused.get(1).toFloatArray());
            System.out.printf("%d subjects on %dx%d (per-subject scales %b): fused vs official algorithm %.3g, "
                    + "image contribution up to %.3g%n", subjects, gridHeight, gridWidth, perSubject, error, imageShare);
            assertTrue(error <= 1e-5, "fused attention differs from the official algorithm by " + error);
            assertTrue(imageShare > 1e-3, "the subjects contribute nothing");
            assertEquals(0.0, GoldenTensors.maxAbsDiff(textOnly.get(0).toFloatArray(), fused.get(0).toFloatArray()),
                    "the unconditional row (zero boxes) must be exactly text attention");
        }
    }

    @Test
    void zeroBoxesAndZeroScalesLeaveExactlyTheTextAttention() {
        Random random = new Random(5);
        float[][][] zero = new float[2][3][4];
        float[][][] boxed = {new float[3][4], {randomBox(random), randomBox(random), randomBox(random)}};
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 48, WIDTH);
            NDArray context = RandomTensors.gaussian(m, random, 2, 77 + 16, WIDTH);
            NDArray textOnly = TestLayout.textAttention(layer, hidden, context.get(new NDIndex(":, :77")));
            for (TestLayout layout : List.of(GoldenModel.layout(zero, 0.6, null),
                    GoldenModel.layout(boxed, 0.6, new double[] {0, 0, 0}), GoldenModel.layout(boxed, 0.0, null))) {
                GenerationContext ctx = GoldenModel.context(1);
                NDArray out = attention.forward(layer, hidden, layout.split(context), 8, 6, ctx);
                assertEquals(0.0, GoldenTensors.maxAbsDiff(textOnly.toFloatArray(), out.toFloatArray()));
            }
        }
    }

    @Test
    void masksFollowTheRectangularGrid() {
        // x spans columns (width 6), y spans rows (height 8); starts floored, ends ceiled
        LayoutMask mask = LayoutMask.ofBoxes(new float[][][] {{{0.1f, 0.1f, 0.45f, 0.3f}, {0.5f, 0.5f, 1f, 1f}}}, 8,
                6);
        for (int r = 0; r < 8; r++) {
            for (int c = 0; c < 6; c++) {
                int l = r * 6 + c;
                boolean first = r <= 2 && c <= 2;
                boolean second = r >= 4 && c >= 3;
                assertEquals(first, mask.covers(0, 0, l), "subject 0 at row " + r + ", column " + c);
                assertEquals(second, mask.covers(0, 1, l), "subject 1 at row " + r + ", column " + c);
                assertEquals(!first && !second, mask.isBackground(0, l));
            }
        }
        float[] bias = mask.bias(2, 3);
        int k = 2 + 2 * 3;
        int inFirst = 6 + 1;
        int background = 3 * 6 + 1;
        assertEquals(List.of(-10000f, -10000f, 0f, 0f, 0f, -10000f, -10000f, -10000f), values(bias, inFirst * k, k));
        assertEquals(List.of(0f, 0f, -10000f, -10000f, -10000f, -10000f, -10000f, -10000f),
                values(bias, background * k, k));
    }

    @Test
    void masksAndContextProjectionsAreComputedOncePerGeneration() {
        Random random = new Random(9);
        TestLayout layout = GoldenModel.layout(new float[][][] {new float[2][4], {randomBox(random),
                randomBox(random)}}, 0.6, null);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 48, WIDTH);
            NDArray context = cfgContext(m, random, layout);
            GenerationContext ctx = GoldenModel.context(2);
            EncoderContext encoder = layout.split(context);
            int before = m.getManagedArrays().size();
            attention.forward(layer, hidden, encoder, 8, 6, ctx);
            int afterFirst = m.getManagedArrays().size();
            attention.forward(layer, hidden, encoder, 8, 6, ctx);
            assertEquals(afterFirst + 1, m.getManagedArrays().size(), "a second call adds only its output");
            assertEquals(before + 1 + 2 + 4, afterFirst, "the first call adds its output, the bias, the row weights "
                    + "and the text and image tokens' keys and values");
            SubjectConditioning subjects = encoder.subjects().orElseThrow();
            assertSame(MultiSubjectAttention.mask(ctx, subjects, 8, 6), MultiSubjectAttention.mask(ctx, subjects, 8, 6));
        }
    }

    @Test
    void generationContextsDoNotShareState() throws Exception {
        Random random = new Random(13);
        TestLayout left = GoldenModel.layout(new float[][][] {new float[1][4], {{0, 0, 0.5f, 1}}}, 0.6, null);
        TestLayout right = GoldenModel.layout(new float[][][] {new float[1][4], {{0.5f, 0, 1, 1}}}, 0.9, null);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 48, WIDTH);
            NDArray context = cfgContext(m, random, left);
            float[] leftAlone = run(left, hidden, context);
            float[] rightAlone = run(right, hidden, context);
            assertTrue(GoldenTensors.maxAbsDiff(leftAlone, rightAlone) > 1e-3);

            GenerationContext a = GoldenModel.context(1);
            GenerationContext b = GoldenModel.context(1);
            EncoderContext leftContext = left.split(context);
            EncoderContext rightContext = right.split(context);
            for (int i = 0; i < 3; i++) {
                assertEquals(0.0, GoldenTensors.maxAbsDiff(leftAlone,
                        attention.forward(layer, hidden, leftContext, 8, 6, a).toFloatArray()));
                assertEquals(0.0, GoldenTensors.maxAbsDiff(rightAlone,
                        attention.forward(layer, hidden, rightContext, 8, 6, b).toFloatArray()));
            }
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                List<Future<Double>> errors = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    TestLayout layout = i % 2 == 0 ? left : right;
                    float[] expected = i % 2 == 0 ? leftAlone : rightAlone;
                    errors.add(pool.submit(() -> GoldenTensors.maxAbsDiff(expected, run(layout, hidden, context))));
                }
                for (Future<Double> e : errors) {
                    assertEquals(0.0, e.get());
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void withoutSubjectsTheLayerIsTextAttention() {
        Random random = new Random(17);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 16, WIDTH);
            NDArray text = RandomTensors.gaussian(m, random, 2, 77, WIDTH);
            NDArray out = attention.forward(layer, hidden, EncoderContext.text(text), 4, 4, GoldenModel.context(1));
            assertEquals(0.0, GoldenTensors.maxAbsDiff(TestLayout.textAttention(layer, hidden, text).toFloatArray(),
                    out.toFloatArray()));
        }
    }

    @Test
    void subjectsOfAnotherBatchAreRefused() {
        Random random = new Random(19);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 16, WIDTH);
            TestLayout oneRow = GoldenModel.layout(new float[][][] {{randomBox(random), randomBox(random)}}, 0.6, null);
            EncoderContext subjects = oneRow.split(RandomTensors.gaussian(m, random, 1, 77 + 12, WIDTH));
            EncoderContext mismatched = new EncoderContext(RandomTensors.gaussian(m, random, 2, 77, WIDTH), subjects.subjects());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> attention.forward(layer, hidden, mismatched, 4, 4, GoldenModel.context(1)));
            assertTrue(e.getMessage().contains(LAYER) && e.getMessage().contains("the subjects 1"), e.getMessage());
        }
    }

    @Test
    void selfAttentionLayersArePlainAttention() {
        String selfLayer = LAYER.replace("attn2", "attn1");
        Attention self = new Attention(Weights.loading(TestEngine.folder(Golden.model().resolve("unet")).weights(),
                weights, TestEngine.kernels()).prefixed(selfLayer), selfLayer, WIDTH, 4, 0, TestEngine.kernels());
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, new Random(3), 2, 16, WIDTH);
            GenerationContext ctx = GoldenModel.context(1);
            assertEquals(0.0, GoldenTensors.maxAbsDiff(DotProductAttention.selfAttend(self, hidden).toFloatArray(),
                    attention.forward(self, hidden, null, 4, 4, ctx).toFloatArray()));
        }
    }

    @Test
    void bindingNamesTheLayersThatDoNotFit() {
        ModelWeights adapter = GoldenModel.adapterWeights(adapterSource);
        IllegalArgumentException fewer = assertThrows(IllegalArgumentException.class,
                () -> MultiSubjectAttention.bind(adapter, layers.subList(0, 12), weights));
        assertTrue(fewer.getMessage().contains("unexpected '13.to_k_ip.weight' (the denoising model has only 12 attention layers)"),
                fewer.getMessage());
        IllegalArgumentException shifted = assertThrows(IllegalArgumentException.class,
                () -> MultiSubjectAttention.bind(adapter, layers.subList(1, layers.size()), weights));
        assertTrue(shifted.getMessage().contains("missing '0.to_k_ip.weight' for layer " + LAYER)
                && shifted.getMessage().contains("is self-attention"), shifted.getMessage());
        List<AttentionLayerSpec> wider = layers.stream().map(l -> new AttentionLayerSpec(l.name(),
                l.channels(), l.heads(), l.isCrossAttention() ? 32 : 0)).toList();
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                () -> MultiSubjectAttention.bind(adapter, wider, weights));
        assertTrue(shape.getMessage().contains("entry 1 (layer " + LAYER + ")")
                && shape.getMessage().contains("[64, 32]"), shape.getMessage());
    }

    private static float[] run(TestLayout layout, NDArray hidden, NDArray context) {
        GenerationContext ctx = GoldenModel.context(1);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray h = hidden.duplicate();
            h.attach(m);
            EncoderContext encoder = layout.split(context);
            encoder.text().attach(m);
            encoder.subjects().orElseThrow().tokens().attach(m);
            return attention.forward(layer, h, encoder, 8, 6, ctx).toFloatArray();
        }
    }

    /** [uncond, cond] context: random text for both, zero image tokens for the unconditional row. */
    private static NDArray cfgContext(NDManager m, Random random, TestLayout layout) {
        NDArray text = RandomTensors.gaussian(m, random, 2, layout.textTokens(), WIDTH);
        NDArray image = RandomTensors.gaussian(m, random, 1, layout.imageTokens(), WIDTH);
        NDArray images = m.zeros(image.getShape()).concat(image, 0);
        return text.concat(images, 1);
    }

    static float[] randomBox(Random random) {
        float x0 = random.nextFloat() * 0.7f;
        float y0 = random.nextFloat() * 0.7f;
        return new float[] {x0, y0, x0 + 0.1f + random.nextFloat() * (0.9f - x0), y0 + 0.1f
                + random.nextFloat() * (0.9f - y0)};
    }

    private static List<Float> values(float[] array, int from, int count) {
        List<Float> out = new ArrayList<>();
        for (int i = from; i < from + count; i++) {
            out.add(array[i]);
        }
        return out;
    }
}

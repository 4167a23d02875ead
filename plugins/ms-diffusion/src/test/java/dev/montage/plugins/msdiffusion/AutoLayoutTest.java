package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.montage.api.AutoLayout;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.TextEncoder.TokenSpan;
import dev.montage.nn.Attention;
import dev.montage.nn.Weights;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.RandomTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TorchCheckpointSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Auto layout (masks from the running mean of the phrase attention maps) against the official algorithm written out,
 * call by call, on square and rectangular grids.
 */
class AutoLayoutTest {
    private static final String LAYER = "up_blocks.0.attentions.1.transformer_blocks.1.attn2";
    private static final int INDEX = 15;
    private static final int CALLS = 5;

    private static NDManager weights;
    private static TorchCheckpointSource adapterSource;
    private static Attention layer;
    private static NDArray kIp;
    private static NDArray vIp;
    private static MultiSubjectAttention attention;

    @BeforeAll
    static void load() {
        weights = TestEngine.manager().newSubManager();
        Weights p = Weights.loading(TestEngine.folder(Golden.model().resolve("unet")).weights(), weights,
                TestEngine.kernels());
        layer = new Attention(p.prefixed(LAYER), LAYER, 64, 4, 64, TestEngine.kernels());
        adapterSource = GoldenModel.adapterCheckpoint();
        ModelWeights adapter = GoldenModel.adapterWeights(adapterSource);
        kIp = adapter.get(INDEX + ".to_k_ip.weight", weights);
        vIp = adapter.get(INDEX + ".to_v_ip.weight", weights);
        attention = MultiSubjectAttention.bind(adapter, GoldenModel.unetLayers(), weights);
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

    @ParameterizedTest(name = "{0} subjects on {1}x{2}, threshold {3}, first derived step {4}, zero boxes {5}")
    @CsvSource({"1,4,4,0.5,2,false", "2,8,6,0.4,1,false", "3,6,8,0.6,0,false", "2,8,6,0.4,1,true",
        "3,4,4,0.5,2,true"})
    void everyCallMatchesTheOfficialAlgorithm(int subjects, int gridHeight, int gridWidth, double threshold,
            int startStep, boolean zeroBoxes) {
        Random random = new Random(subjects * 101L + gridWidth);
        float[][][] boxes = new float[2][subjects][];
        List<TokenSpan> spans = new ArrayList<>();
        for (int j = 0; j < subjects; j++) {
            boxes[0][j] = new float[4];
            // all-zero boxes with auto layout: MS-Diffusion's recipe for no layout prior
            boxes[1][j] = zeroBoxes ? new float[4] : MultiSubjectAttentionTest.randomBox(random);
            spans.add(new TokenSpan(5 + 3 * j, 7 + 3 * j));
        }
        TestLayout layout = GoldenModel.autoLayout(boxes, spans, new AutoLayout(threshold, startStep));
        TestLayout boxesOnly = GoldenModel.layout(boxes, 0.6, null);
        ReferenceAutoLayout reference = new ReferenceAutoLayout();
        GenerationContext ctx = GoldenModel.context(CALLS);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray context = RandomTensors.gaussian(m, random, 2, 77 + layout.imageTokens(), 64);
            context.set(new NDIndex("0, 77:"), 0f);
            EncoderContext encoder = layout.split(context);
            for (int call = 0; call < CALLS; call++) {
                NDArray hidden = RandomTensors.gaussian(m, random, 2, gridHeight * gridWidth, 64);
                NDArray fused = attention.forward(layer, hidden, encoder, gridHeight, gridWidth, ctx);
                NDArray official = reference.forward(layer, kIp, vIp, hidden, context, gridHeight, gridWidth, layout);
                NDArray withBoxes = ReferenceAttention.forward(layer, kIp, vIp, hidden, context, gridHeight, gridWidth,
                        boxesOnly);
                double error = GoldenTensors.maxAbsDiff(official.toFloatArray(), fused.toFloatArray());
                double fromBoxes = GoldenTensors.maxAbsDiff(withBoxes.toFloatArray(), fused.toFloatArray());
                System.out.printf("auto layout call %d (%d subjects, %dx%d): vs official %.3g, vs box masks %.3g%n",
                        call + 1, subjects, gridHeight, gridWidth, error, fromBoxes);
                assertTrue(error <= 1e-5, "call " + (call + 1) + " differs from the official algorithm by " + error);
                if (call < startStep) {
                    assertTrue(fromBoxes <= 1e-5, "before the start step the boxes rule");
                } else {
                    assertTrue(fromBoxes > 1e-4, "from the start step on the derived masks rule");
                }
                assertEquals(0.0, GoldenTensors.maxAbsDiff(withBoxes.get(0).toFloatArray(),
                        fused.get(0).toFloatArray()), 1e-6, "the unconditional row stays text attention");
            }
        }
    }

    @Test
    void theHistoryKeepsOneSumPerLayerAndDerivedMasksDoNotStay() {
        Random random = new Random(8);
        float[][][] boxes = {new float[2][4], {MultiSubjectAttentionTest.randomBox(random),
                MultiSubjectAttentionTest.randomBox(random)}};
        TestLayout layout = GoldenModel.autoLayout(boxes, List.of(new TokenSpan(3, 4), new TokenSpan(6, 8)),
                new AutoLayout(0.5, 1));
        GenerationContext ctx = GoldenModel.context(CALLS);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 16, 64);
            NDArray context = RandomTensors.gaussian(m, random, 2, 77 + layout.imageTokens(), 64);
            EncoderContext encoder = layout.split(context);
            int before = m.getManagedArrays().size();
            attention.forward(layer, hidden, encoder, 4, 4, ctx);
            assertEquals(before + 1 + 1 + 2 + 4, m.getManagedArrays().size(),
                    "output, map sum, box bias and weights, text and image keys and values");
            for (int call = 2; call <= CALLS; call++) {
                attention.forward(layer, hidden, encoder, 4, 4, ctx);
                assertEquals(before + call + 1 + 2 + 4, m.getManagedArrays().size(),
                        "call " + call + " adds its output");
            }
        }
    }

    @Test
    void phraseSpansMustMatchTheSubjects() {
        TestLayout layout = GoldenModel.autoLayout(new float[2][2][4], List.of(new TokenSpan(1, 2)),
                new AutoLayout(0.5, 0));
        GenerationContext ctx = GoldenModel.context(1);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            Random random = new Random(1);
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 16, 64);
            NDArray context = RandomTensors.gaussian(m, random, 2, 77 + layout.imageTokens(), 64);
            EncoderContext encoder = layout.split(context);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> attention.forward(layer, hidden, encoder, 4, 4, ctx));
            assertTrue(e.getMessage().contains("2 subjects, 1 spans"), e.getMessage());
        }
    }
}

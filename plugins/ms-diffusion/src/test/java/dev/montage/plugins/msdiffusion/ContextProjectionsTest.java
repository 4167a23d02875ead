package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.Kernels;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.EncoderContext;
import dev.montage.nn.Attention;
import dev.montage.nn.DefaultAttention;
import dev.montage.nn.Weights;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.RandomTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TorchCheckpointSource;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The keys and values of the encoder context are projected once per generation and context array: later calls
 * give bit-identical results, leave nothing behind, and layers that share a name (UNet and ControlNet) do not share
 * projections.
 */
class ContextProjectionsTest {
    private static final String LAYER = "down_blocks.1.attentions.0.transformer_blocks.0.attn2";
    private static final String OTHER = "mid_block.attentions.0.transformer_blocks.1.attn2";
    private static final int WIDTH = 64;

    private static NDManager weights;
    private static Attention layer;
    private static Attention sameNameOtherWeights;
    private static MultiSubjectAttention multiSubject;

    @BeforeAll
    static void load() {
        weights = TestEngine.manager().newSubManager();
        Weights p = Weights.loading(TestEngine.folder(Golden.model().resolve("unet")).weights(), weights,
                TestEngine.kernels());
        layer = new Attention(p.prefixed(LAYER), LAYER, WIDTH, 4, WIDTH, TestEngine.kernels());
        sameNameOtherWeights = new Attention(p.prefixed(OTHER), LAYER, WIDTH, 4, WIDTH, TestEngine.kernels());
        try (TorchCheckpointSource source = GoldenModel.adapterCheckpoint()) {
            multiSubject = MultiSubjectAttention.bind(GoldenModel.adapterWeights(source),
                    GoldenModel.unetLayers(), weights);
        }
    }

    @AfterAll
    static void close() {
        if (multiSubject != null) {
            multiSubject.close();
        }
        if (weights != null) {
            weights.close();
        }
    }

    @Test
    void everyStepOfAGenerationGivesTheBitsOfAFreshProjection() {
        Random random = new Random(41);
        TestLayout layout = GoldenModel.layout(new float[][][] {new float[2][4],
            {MultiSubjectAttentionTest.randomBox(random), MultiSubjectAttentionTest.randomBox(random)}}, 0.6,
                new double[] {0.8, 1.2});
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 48, WIDTH);
            NDArray context = RandomTensors.gaussian(m, random, 2, 77 + 12, WIDTH);
            NDArray text = RandomTensors.gaussian(m, random, 2, 77, WIDTH);
            EncoderContext withSubjects = layout.split(context);
            for (AttentionProcessor processor : List.of(DefaultAttention.INSTANCE, multiSubject)) {
                EncoderContext input = processor == DefaultAttention.INSTANCE ? EncoderContext.text(text)
                        : withSubjects;
                float[] fresh = forward(processor, layer, hidden, input, GoldenModel.context(3));
                GenerationContext generation = GoldenModel.context(3);
                for (int step = 0; step < 3; step++) {
                    assertArrayEquals(fresh, forward(processor, layer, hidden, input, generation),
                            processor.getClass().getSimpleName() + " at step " + step);
                }
            }
        }
    }

    @Test
    void projectsOncePerContextArray() {
        Random random = new Random(43);
        CountingLayer counting = new CountingLayer(layer);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 16, WIDTH);
            NDArray context = RandomTensors.gaussian(m, random, 2, 77, WIDTH);
            GenerationContext ctx = GoldenModel.context(3);
            for (int step = 0; step < 3; step++) {
                DefaultAttention.INSTANCE.forward(counting, hidden, EncoderContext.text(context), 4, 4, ctx);
            }
            assertEquals(1, counting.keys);
            assertEquals(1, counting.values);
            // another context array, even with the same values, is projected afresh
            DefaultAttention.INSTANCE.forward(counting, hidden, EncoderContext.text(context.duplicate()), 4, 4, ctx);
            assertEquals(2, counting.keys);
        }
    }

    @Test
    void preparingTakesTheFirstStepsProjectionsAndGivesTheirBits() {
        Random random = new Random(59);
        TestLayout layout = GoldenModel.layout(new float[][][] {new float[2][4],
            {MultiSubjectAttentionTest.randomBox(random), MultiSubjectAttentionTest.randomBox(random)}}, 0.6,
                new double[] {0.8, 1.2});
        CountingLayer counting = new CountingLayer(layer);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 48, WIDTH);
            for (AttentionProcessor processor : List.of(DefaultAttention.INSTANCE, multiSubject)) {
                String name = processor.getClass().getSimpleName();
                try (NDManager generation = m.newSubManager()) {
                    EncoderContext input = processor == DefaultAttention.INSTANCE
                            ? EncoderContext.text(RandomTensors.gaussian(generation, random, 2, 77, WIDTH))
                            : layout.split(RandomTensors.gaussian(generation, random, 2, 77 + 12, WIDTH));
                    int before = generation.getManagedArrays().size();
                    float[] fresh = forward(processor, layer, hidden, input, GoldenModel.context(3));
                    int keptByAFirstStep = generation.getManagedArrays().size() - before;

                    GenerationContext ctx = GoldenModel.context(3);
                    counting.keys = 0;
                    before = generation.getManagedArrays().size();
                    processor.prepare(counting, input, ctx);
                    int prepared = generation.getManagedArrays().size() - before;
                    assertEquals(processor == DefaultAttention.INSTANCE ? 2 : 4, prepared,
                            name + ": the keys and values of the text (and of the subject tokens)");
                    for (int step = 0; step < 3; step++) {
                        before = generation.getManagedArrays().size();
                        assertArrayEquals(fresh, forward(processor, counting, hidden, input, ctx), name + " at step "
                                + step);
                        assertEquals(step == 0 ? keptByAFirstStep - prepared : 0,
                                generation.getManagedArrays().size() - before, name + " at step " + step);
                    }
                    assertEquals(1, counting.keys, name + ": no step projects the text again");
                }
            }
        }
    }

    @Test
    void laterCallsLeaveOnlyTheirOutputAndTheProjectionsEndWithTheContext() {
        Random random = new Random(47);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 16, WIDTH);
            GenerationContext ctx = GoldenModel.context(3);
            int before = m.getManagedArrays().size();
            try (NDManager generation = m.newSubManager()) {
                NDArray context = RandomTensors.gaussian(generation, random, 2, 77, WIDTH);
                DefaultAttention.INSTANCE.forward(layer, hidden, EncoderContext.text(context), 4, 4, ctx).close();
                int afterFirst = m.getManagedArrays().size();
                assertEquals(before + 1 + 2, afterFirst, "the context and its key and value");
                DefaultAttention.INSTANCE.forward(layer, hidden, EncoderContext.text(context), 4, 4, ctx).close();
                assertEquals(afterFirst, m.getManagedArrays().size());
            }
            assertEquals(before, m.getManagedArrays().size());
            // the same generation context goes on with a new context array after the old one's manager ended
            NDArray context = RandomTensors.gaussian(m, random, 2, 77, WIDTH);
            assertArrayEquals(TestLayout.textAttention(layer, hidden, context).toFloatArray(),
                    DefaultAttention.INSTANCE.forward(layer, hidden, EncoderContext.text(context), 4, 4, ctx).toFloatArray());
        }
    }

    @Test
    void layersWithTheSameNameKeepTheirOwnProjections() {
        Random random = new Random(53);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray hidden = RandomTensors.gaussian(m, random, 2, 16, WIDTH);
            NDArray context = RandomTensors.gaussian(m, random, 2, 77, WIDTH);
            GenerationContext ctx = GoldenModel.context(2);
            for (int step = 0; step < 2; step++) {
                for (Attention a : List.of(layer, sameNameOtherWeights)) {
                    assertArrayEquals(TestLayout.textAttention(a, hidden, context).toFloatArray(),
                            DefaultAttention.INSTANCE.forward(a, hidden, EncoderContext.text(context), 4, 4, ctx).toFloatArray());
                }
            }
            assertTrue(GoldenTensors.maxAbsDiff(TestLayout.textAttention(layer, hidden, context).toFloatArray(),
                    TestLayout.textAttention(sameNameOtherWeights, hidden, context).toFloatArray()) > 1e-3);
        }
    }

    private static float[] forward(AttentionProcessor processor, AttentionLayer layer, NDArray hidden,
            EncoderContext context, GenerationContext ctx) {
        try (NDArray out = processor.forward(layer, hidden, context, 8, 6, ctx)) {
            return out.toFloatArray();
        }
    }

    /** A layer that counts how often its context projections run. */
    private static final class CountingLayer implements AttentionLayer {
        private final AttentionLayer inner;
        int keys;
        int values;

        CountingLayer(AttentionLayer inner) {
            this.inner = inner;
        }

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public int heads() {
            return inner.heads();
        }

        @Override
        public boolean isCrossAttention() {
            return true;
        }

        @Override
        public NDArray query(NDArray hidden) {
            return inner.query(hidden);
        }

        @Override
        public NDArray key(NDArray context) {
            keys++;
            return inner.key(context);
        }

        @Override
        public NDArray value(NDArray context) {
            values++;
            return inner.value(context);
        }

        @Override
        public NDArray output(NDArray attended) {
            return inner.output(attended);
        }

        @Override
        public Kernels kernels() {
            return inner.kernels();
        }
    }
}

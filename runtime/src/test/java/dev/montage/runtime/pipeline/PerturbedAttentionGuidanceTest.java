package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.host.Kernels;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.runtime.testing.TestEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Perturbed-attention guidance's parts: the combination of a step's predictions, checked against diffusers' formula in
 * float64, and the perturbed rows of a self-attention layer.
 */
class PerturbedAttentionGuidanceTest {
    private static final int IMAGES = 2;
    private static final int PER_IMAGE = 4 * 3 * 5;

    /**
     * diffusers' {@code _apply_perturbed_attention_guidance}: uncond + g · (cond − uncond) + s_t · (cond − perturbed),
     * without guidance cond + s_t · (cond − perturbed), then guidance rescale towards cond where guided.
     */
    @Test
    void theStepsPredictionIsDiffusersCombination() {
        Random random = new Random(11);
        float[][] parts = new float[3][IMAGES * PER_IMAGE];
        for (float[] part : parts) {
            for (int i = 0; i < part.length; i++) {
                part[i] = (float) random.nextGaussian();
            }
        }
        PerturbedAttention pag = new PerturbedAttention(3, 0.002, List.of());
        float t = 801;
        double s = 3 - 0.002 * 199;
        GenerationRequest guided = GenerationRequest.builder("a dog").guidanceScale(5).perturbedAttention(pag).build();
        double[] expected = new double[IMAGES * PER_IMAGE];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = parts[0][i] + 5.0 * (parts[1][i] - parts[0][i]) + s * (parts[1][i] - parts[2][i]);
        }
        assertClose(expected, combined(new BatchRows(true, true), guided, t, parts[0], parts[1], parts[2]));
        GenerationRequest unguided = guided.toBuilder().guidanceScale(1).build();
        for (int i = 0; i < expected.length; i++) {
            expected[i] = parts[1][i] + s * (parts[1][i] - parts[2][i]);
        }
        assertClose(expected, combined(new BatchRows(false, true), unguided, t, parts[1], parts[2]));
        for (int i = 0; i < expected.length; i++) {
            expected[i] = parts[0][i] + 5.0 * (parts[1][i] - parts[0][i]) + s * (parts[1][i] - parts[2][i]);
        }
        try (NDManager m = TestEngine.manager().newSubManager()) {
            Shape shape = new Shape(IMAGES, 4, 3, 5);
            float[] rescaled = Pipeline.rescaled(m.create(toFloats(expected), shape), m.create(parts[1], shape), 0.7)
                    .toFloatArray();
            float[] actual = combined(new BatchRows(true, true), guided.toBuilder().guidanceRescale(0.7).build(), t,
                    parts[0], parts[1], parts[2]);
            for (int i = 0; i < actual.length; i++) {
                assertEquals(rescaled[i], actual[i], 1e-5 * Math.max(1, Math.abs(rescaled[i])), "rescaled " + i);
            }
        }
    }

    /** With one part the prediction is the model's; a scale of 0 at this timestep adds nothing. */
    @Test
    void aSinglePartOrAScaleOfZeroLeavesThePrediction() {
        float[] eps = new float[IMAGES * PER_IMAGE];
        Random random = new Random(2);
        for (int i = 0; i < eps.length; i++) {
            eps[i] = (float) random.nextGaussian();
        }
        GenerationRequest plain = GenerationRequest.builder("a dog").guidanceScale(1).build();
        assertArrayEquals(eps, combined(new BatchRows(false, false), plain, 500, eps));
        GenerationRequest faded = plain.toBuilder().perturbedAttention(new PerturbedAttention(1, 1, List.of()))
                .build();
        float[] other = eps.clone();
        other[3] += 10;
        assertArrayEquals(eps, combined(new BatchRows(false, true), faded, 500, eps, other), "s_t = 0 below 999");
    }

    /**
     * The last rows of a perturbed layer give {@code to_out(to_v(x))}; the others, and every row of a layer not
     * perturbed or of a generation without the guidance, what the layer's own processor gives.
     */
    @Test
    void thePerturbedRowsOfAPerturbedLayerAttendToThemselves() {
        AttentionProcessor own = (layer, hidden, context, h, w, ctx) -> hidden.mul(2f).add(1f);
        PerturbedSelfAttention wrapped = new PerturbedSelfAttention(own);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            Random random = new Random(5);
            float[] x = new float[3 * 6 * 4];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) random.nextGaussian();
            }
            NDArray hidden = m.create(x, new Shape(3, 6, 4));
            ToyLayer layer = new ToyLayer("mid.attn1", m);
            GenerationContext ctx = new GenerationContext(GenerationRequest.builder("a dog").build());
            float[] plain = own.forward(layer, hidden, null, 2, 3, ctx).toFloatArray();
            assertArrayEquals(plain, wrapped.forward(layer, hidden, null, 2, 3, ctx).toFloatArray(), "no guidance");
            ctx.put(PerturbedSelfAttention.KEY, new PerturbedSelfAttention.Perturbation(Set.of("other.attn1"), 1));
            assertArrayEquals(plain, wrapped.forward(layer, hidden, null, 2, 3, ctx).toFloatArray(), "not perturbed");
            ctx.put(PerturbedSelfAttention.KEY, new PerturbedSelfAttention.Perturbation(Set.of("mid.attn1"), 1));
            float[] out = wrapped.forward(layer, hidden, null, 2, 3, ctx).toFloatArray();
            float[] identity = layer.output(layer.value(hidden)).toFloatArray();
            int row = 6 * 4;
            for (int i = 0; i < out.length; i++) {
                assertEquals(i < 2 * row ? plain[i] : identity[i], out[i], 1e-6f, "element " + i);
            }
            ctx.put(PerturbedSelfAttention.KEY, new PerturbedSelfAttention.Perturbation(Set.of("mid.attn1"), 3));
            assertArrayEquals(identity, wrapped.forward(layer, hidden, null, 2, 3, ctx).toFloatArray(), 1e-6f,
                    "a batch of perturbed rows alone");
        }
    }

    /** A self-attention layer of random projections, its output projection a matrix too. */
    private record ToyLayer(String name, NDArray v, NDArray out) implements AttentionLayer {
        ToyLayer(String name, NDManager m) {
            this(name, m.randomNormal(new Shape(4, 4)), m.randomNormal(new Shape(4, 4)));
        }

        @Override
        public int heads() {
            return 1;
        }

        @Override
        public boolean isCrossAttention() {
            return false;
        }

        @Override
        public NDArray query(NDArray hidden) {
            throw new AssertionError("identity attention needs no query");
        }

        @Override
        public NDArray key(NDArray context) {
            throw new AssertionError("identity attention needs no key");
        }

        @Override
        public NDArray value(NDArray context) {
            return context.matMul(v);
        }

        @Override
        public NDArray output(NDArray attended) {
            return attended.matMul(out).add(0.5f);
        }

        @Override
        public Kernels kernels() {
            return TestEngine.kernels();
        }
    }

    /** The step's prediction from one batch of {@code parts} in order. */
    private static float[] combined(BatchRows rows, GenerationRequest request, float t, float[]... parts) {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            List<NDArray> arrays = new ArrayList<>();
            for (float[] part : parts) {
                arrays.add(m.create(part, new Shape(IMAGES, 4, 3, 5)));
            }
            NDArray batch = arrays.get(0);
            for (int i = 1; i < arrays.size(); i++) {
                batch = batch.concat(arrays.get(i), 0);
            }
            return Pipeline.guided(batch, rows, t, request).toFloatArray();
        }
    }

    private static void assertClose(double[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5 * Math.max(1, Math.abs(expected[i])), "element " + i);
        }
    }

    private static float[] toFloats(double[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) x[i];
        }
        return out;
    }
}

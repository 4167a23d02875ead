package dev.montage.plugins.ipadapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.Box;
import dev.montage.api.GenerationContext;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.EncoderContext;
import dev.montage.nn.ContextProjections;
import dev.montage.nn.DotProductAttention;
import dev.montage.nn.Heads;
import dev.montage.nn.IpProjections;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * IP-Adapter's decoupled cross-attention ({@code IPAttnProcessor2_0}): the layer's text attention plus, with the same
 * queries, a separate softmax attention to the image tokens through the adapter's {@code to_k_ip}/{@code to_v_ip},
 * scaled: {@code to_out(text + scale · image)}. Every batch row, the unconditional ones too, uses its own image tokens
 * and the same scale.
 *
 * <p>Several image prompts with the global scale and no boxes attend jointly, in one softmax over all their tokens,
 * as the official code does for a list of images. When a subject has its own scale or a box, each image prompt
 * attends on its own and adds {@code scale_i · mask_i · attention_i}, as diffusers does with {@code ip_adapter_masks}:
 * {@code mask_i} is 1 at the grid positions whose centre lies inside the subject's box and 0 elsewhere (1 everywhere
 * without a box). For a single image prompt with the global scale and no box the two are the same.
 * Self-attention layers and generations without subjects get plain attention.
 */
final class IpAttention implements AttentionProcessor, AutoCloseable {
    private final IpProjections projections;

    IpAttention(IpProjections projections) {
        this.projections = projections;
    }

    @Override
    public NDArray forward(AttentionLayer layer, NDArray hidden, EncoderContext context, int gridHeight, int gridWidth,
            GenerationContext ctx) {
        if (context == null) {
            return DotProductAttention.selfAttend(layer, hidden);
        }
        IpProjections.Projection ip = projections.get(layer);
        ContextProjections cache = ContextProjections.of(ctx);
        ContextProjections.KeyValue text = cache.text(layer, context.text());
        if (context.subjects().isEmpty()) {
            return DotProductAttention.crossAttend(layer, hidden, text);
        }
        SubjectConditioning subjects = context.subjects().get();
        long batch = hidden.getShape().get(0);
        if (subjects.rows() != batch || context.text().getShape().get(0) != batch) {
            throw new IllegalArgumentException("layer " + layer.name() + ": " + batch + " batch rows, but the text has "
                    + context.text().getShape().get(0) + " and the image prompts " + subjects.rows());
        }
        Kernels kernels = layer.kernels();
        ContextProjections.KeyValue image = cache.image(layer, ip, subjects.tokens());
        NDManager caller = hidden.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray x = Scopes.borrow(hidden, scope);
            int heads = layer.heads();
            NDArray q = Heads.split(layer.query(x), heads);
            NDArray combined = Heads.merge(kernels.scaledDotProductAttention(q, Heads.split(text.key(scope), heads),
                    Heads.split(text.value(scope), heads), null));
            NDArray keys = image.key(scope);
            NDArray values = image.value(scope);
            if (joint(subjects)) {
                NDArray attended = kernels.scaledDotProductAttention(q, Heads.split(keys, heads),
                        Heads.split(values, heads), null);
                combined = combined.add(Heads.merge(attended).mul((float) subjects.scale()));
            } else {
                List<NDArray> weights = BoxWeights.of(ctx).get(subjects, gridHeight, gridWidth, kernels,
                        kernels.dtypeOf(hidden), context.text().getManager());
                for (int j = 0; j < subjects.subjects(); j++) {
                    long from = subjects.dummyTokens() + (long) j * subjects.tokensPerSubject();
                    NDIndex own = new NDIndex(":, {}:{}, :", from, from + subjects.tokensPerSubject());
                    NDArray attended = kernels.scaledDotProductAttention(q, Heads.split(keys.get(own), heads),
                            Heads.split(values.get(own), heads), null);
                    combined = combined.add(Heads.merge(attended).mul(weights.get(j)));
                }
            }
            NDArray out = layer.output(combined);
            out.attach(caller);
            return out;
        }
    }

    @Override
    public void prepare(AttentionLayer layer, EncoderContext context, GenerationContext ctx) {
        projections.prepare(layer, context, ctx);
    }

    /** Whether the image prompts attend jointly: all with the global scale and none with a box. */
    private static boolean joint(SubjectConditioning subjects) {
        return subjects.subjectScales().isEmpty() && subjects.boxes().stream().allMatch(Box.NONE::equals);
    }

    /**
     * [1, H·W, 1]: {@code scale} at the grid positions whose centre lies inside {@code box} (every position for
     * {@link Box#NONE}), 0 elsewhere.
     */
    static NDArray weights(NDManager manager, Box box, double scale, int gridHeight, int gridWidth, Kernels kernels,
            ComputeDType dtype) {
        float[] w = new float[gridHeight * gridWidth];
        for (int r = 0; r < gridHeight; r++) {
            double y = (r + 0.5) / gridHeight;
            for (int c = 0; c < gridWidth; c++) {
                double xc = (c + 0.5) / gridWidth;
                boolean inside = box.equals(Box.NONE)
                        || (xc >= box.x0() && xc < box.x1() && y >= box.y0() && y < box.y1());
                w[r * gridWidth + c] = inside ? (float) scale : 0f;
            }
        }
        NDArray weights = manager.create(w, new Shape(1, w.length, 1));
        if (dtype == ComputeDType.FLOAT32) {
            return weights;
        }
        NDArray cast = kernels.cast(weights, dtype);
        weights.close();
        return cast;
    }

    @Override
    public void close() {
        projections.close();
    }

    /**
     * Each subject's {@link #weights} of one generation by grid size, made on the first call that needs them and
     * owned by the manager of the generation's text tokens, so that they end with the generation.
     */
    private static final class BoxWeights {
        private static final GenerationContext.Key<BoxWeights> KEY = GenerationContext.Key.of(
                "ip-adapter.box-weights", BoxWeights.class);

        private final Map<String, List<NDArray>> byGrid = new HashMap<>();

        static BoxWeights of(GenerationContext ctx) {
            return ctx.computeIfAbsent(KEY, BoxWeights::new);
        }

        synchronized List<NDArray> get(SubjectConditioning subjects, int gridHeight, int gridWidth, Kernels kernels,
                ComputeDType dtype, NDManager owner) {
            return byGrid.computeIfAbsent(gridHeight + "x" + gridWidth, grid -> {
                List<NDArray> weights = new ArrayList<>();
                for (int j = 0; j < subjects.subjects(); j++) {
                    double scale = subjects.subjectScales().isPresent() ? subjects.subjectScales().get()[j]
                            : subjects.scale();
                    weights.add(IpAttention.weights(owner, subjects.boxes().get(j), scale, gridHeight, gridWidth,
                            kernels, dtype));
                }
                return List.copyOf(weights);
            });
        }
    }
}

package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.montage.api.GenerationContext;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.EncoderContext;
import dev.montage.nn.ContextProjections;
import dev.montage.nn.DotProductAttention;
import dev.montage.nn.Heads;
import dev.montage.nn.IpProjections;
import java.util.List;

/**
 * MS-Diffusion's multi-subject cross-attention ({@code MaskedIPAttnProcessor2_0}). A layer receives the text tokens
 * and, separately, the {@link SubjectConditioning}: each batch row's {@code [dummy tokens | subject 1 tokens | ...]}
 * and the subjects' boxes. The text part is the layer's ordinary attention. The image part attends with the adapter's own
 * {@code to_k_ip}/{@code to_v_ip} under a layout bias: a position inside box {@code j} sees subject {@code j}'s
 * tokens, a background position only the dummy tokens, and the image result at background positions is zeroed.
 * Output = {@code to_out(text + scale · image)}, or with per-subject scales each subject's share times its own
 * scale. Self-attention layers get plain attention.
 *
 * <p>The box masks are computed once per generation and grid size and kept in the {@link GenerationContext}
 * ({@link LayoutState}), and so are the text and subject tokens' keys and values ({@link ContextProjections}); these
 * arrays belong to the manager that owns the text tokens (the generation's), so they end with it. With auto
 * layout the text probabilities are computed explicitly, each layer accumulates its phrase attention maps there, and
 * from the layout's start step on the masks come from those maps. Without subjects the layers are plain
 * cross-attention over the text.
 */
final class MultiSubjectAttention implements AttentionProcessor, AutoCloseable {
    private final IpProjections projections;

    private MultiSubjectAttention(IpProjections projections) {
        this.projections = projections;
    }

    /**
     * Binds the adapter's per-layer projections to the denoising model's attention layers ({@link IpProjections}).
     *
     * @param adapter the {@code ms_adapter} dictionary ({@code <i>.to_k_ip.weight}, {@code <i>.to_v_ip.weight})
     * @param layers  the denoising model's attention layers
     * @throws IllegalArgumentException naming the checkpoint and the layers whose entries are missing, unexpected or
     *     of the wrong shape
     */
    static MultiSubjectAttention bind(ModelWeights adapter, List<AttentionLayerSpec> layers, NDManager parent) {
        return new MultiSubjectAttention(IpProjections.bind(adapter, layers, parent, "ms_adapter"));
    }

    @Override
    public NDArray forward(AttentionLayer layer, NDArray hidden, EncoderContext context, int gridHeight, int gridWidth,
            GenerationContext ctx) {
        if (context == null) {
            return DotProductAttention.selfAttend(layer, hidden);
        }
        IpProjections.Projection ip = projections.get(layer);
        ContextProjections cache = ContextProjections.of(ctx);
        if (context.subjects().isEmpty()) {
            return DotProductAttention.crossAttend(layer, hidden, cache.text(layer, context.text()));
        }
        SubjectConditioning subjects = context.subjects().get();
        long batch = hidden.getShape().get(0);
        if (subjects.rows() != batch || context.text().getShape().get(0) != batch) {
            throw new IllegalArgumentException("layer " + layer.name() + ": " + batch + " batch rows, but the text has "
                    + context.text().getShape().get(0) + " and the subjects " + subjects.rows());
        }
        Kernels kernels = layer.kernels();
        ComputeDType dtype = kernels.dtypeOf(hidden);
        LayoutState state = LayoutState.of(ctx, subjects);
        NDManager owner = context.text().getManager();
        NDManager caller = hidden.getManager();
        ContextProjections.KeyValue text = cache.text(layer, context.text());
        ContextProjections.KeyValue image = cache.image(layer, ip, subjects.tokens());
        try (NDManager scope = caller.newSubManager()) {
            NDArray x = Scopes.borrow(hidden, scope);
            int heads = layer.heads();
            NDArray q = Heads.split(layer.query(x), heads);
            NDArray k = Heads.split(text.key(scope), heads);
            NDArray v = Heads.split(text.value(scope), heads);
            NDArray textOut;
            LayoutTensors masks;
            if (subjects.autoLayout().isPresent()) {
                // auto layout reads the text attention maps, so the text probabilities are computed explicitly
                NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul((float) (1 / Math.sqrt(q.getShape().get(3))));
                NDArray probs = scores.toType(DataType.FLOAT32, false).softmax(-1);
                textOut = (dtype == ComputeDType.FLOAT32 ? probs : kernels.cast(probs, dtype)).matMul(v);
                masks = state.autoLayout(layer.name(), probs, gridHeight, gridWidth, owner, scope, kernels, dtype);
            } else {
                textOut = kernels.scaledDotProductAttention(q, k, v, null);
                masks = state.boxTensors(gridHeight, gridWidth, owner, kernels, dtype);
            }
            NDArray ipValue = image.value(scope);
            if (masks.valueScale() != null) {
                ipValue = ipValue.mul(masks.valueScale());
            }
            NDArray imageOut = kernels.scaledDotProductAttention(q, Heads.split(image.key(scope), heads),
                    Heads.split(ipValue, heads), masks.bias());
            // weighted and summed inside the image result: two fresh [B, L, C] arrays less per layer and step
            NDArray combined = Heads.merge(imageOut).muli(masks.rowWeight()).addi(Heads.merge(textOut));
            NDArray out = layer.output(combined);
            out.attach(caller);
            return out;
        }
    }

    @Override
    public void prepare(AttentionLayer layer, EncoderContext context, GenerationContext ctx) {
        projections.prepare(layer, context, ctx);
    }

    /** The box masks of one grid size for the subjects in {@code ctx}, computed on first use (tests read them). */
    static LayoutMask mask(GenerationContext ctx, SubjectConditioning subjects, int gridHeight, int gridWidth) {
        return LayoutState.of(ctx, subjects).boxMask(gridHeight, gridWidth);
    }

    @Override
    public void close() {
        projections.close();
    }
}

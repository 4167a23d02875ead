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
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
    /** Names inside the checkpoint's {@code ms_adapter} dictionary: {@code <processor index>.to_k_ip.weight}. */
    private static final Pattern ENTRY = Pattern.compile("(\\d+)\\.(to_k_ip|to_v_ip)\\.weight");

    /**
     * The weights [out, in] of the image-side key and value projections of one cross-attention layer (bias-free
     * linears, multiplied with the kernels of the layer they serve).
     */
    private record IpProjection(NDArray key, NDArray value) {
    }

    private final Map<String, IpProjection> projections;
    private final NDManager weightsManager;

    private MultiSubjectAttention(Map<String, IpProjection> projections, NDManager weightsManager) {
        this.projections = Map.copyOf(projections);
        this.weightsManager = weightsManager;
    }

    /**
     * Binds the adapter's per-layer projections to the denoising model's attention layers: entry {@code i} of the
     * checkpoint's {@code ms_adapter} dictionary belongs to layer {@code i} of {@code layers} (diffusers'
     * {@code attn_processors} order); only cross-attention entries carry weights.
     *
     * @param adapter    the {@code ms_adapter} dictionary ({@code <i>.to_k_ip.weight}, {@code <i>.to_v_ip.weight})
     * @param layers     the denoising model's attention layers
     * @throws IllegalArgumentException naming the checkpoint and the layers whose entries are missing, unexpected or
     *     of the wrong shape
     */
    static MultiSubjectAttention bind(ModelWeights adapter, List<AttentionLayerSpec> layers, NDManager parent) {
        Map<String, String> expected = new LinkedHashMap<>();
        for (int i = 0; i < layers.size(); i++) {
            if (layers.get(i).isCrossAttention()) {
                expected.put(i + ".to_k_ip.weight", layers.get(i).name());
                expected.put(i + ".to_v_ip.weight", layers.get(i).name());
            }
        }
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, String> e : expected.entrySet()) {
            if (!adapter.contains(e.getKey())) {
                problems.add("missing '" + e.getKey() + "' for layer " + e.getValue());
            }
        }
        for (String name : new TreeSet<>(adapter.names())) {
            if (!expected.containsKey(name)) {
                Matcher m = ENTRY.matcher(name);
                int index = m.matches() ? Integer.parseInt(m.group(1)) : -1;
                String where = index < 0 ? "not an adapter projection"
                        : index >= layers.size() ? "the denoising model has only " + layers.size() + " attention layers"
                        : "layer " + layers.get(index).name() + " is self-attention";
                problems.add("unexpected '" + name + "' (" + where + ")");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(adapter.source() + " does not fit the denoising model's " + layers.size()
                    + " attention layers: " + String.join("; ", problems));
        }
        NDManager manager = parent.newSubManager();
        try {
            Weights p = Weights.loading(adapter, manager, null);
            Map<String, IpProjection> projections = new HashMap<>();
            for (int i = 0; i < layers.size(); i++) {
                AttentionLayerSpec layer = layers.get(i);
                if (layer.isCrossAttention()) {
                    try {
                        projections.put(layer.name(), new IpProjection(
                                p.linearWeight(i + ".to_k_ip.weight", layer.channels(), layer.contextChannels()),
                                p.linearWeight(i + ".to_v_ip.weight", layer.channels(),
                                        layer.contextChannels())));
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException("ms_adapter entry " + i + " (layer " + layer.name() + "): "
                                + e.getMessage(), e);
                    }
                }
            }
            return new MultiSubjectAttention(projections, manager);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** The adapter tensors a denoising model's layers need, by name inside the {@code ms_adapter} dictionary. */
    static Map<String, long[]> weightShapes(List<AttentionLayerSpec> layers) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (int i = 0; i < layers.size(); i++) {
            AttentionLayerSpec layer = layers.get(i);
            if (layer.isCrossAttention()) {
                shapes.put(i + ".to_k_ip.weight", new long[] {layer.channels(), layer.contextChannels()});
                shapes.put(i + ".to_v_ip.weight", new long[] {layer.channels(), layer.contextChannels()});
            }
        }
        return shapes;
    }

    @Override
    public NDArray forward(AttentionLayer layer, NDArray hidden, EncoderContext context, int gridHeight, int gridWidth,
            GenerationContext ctx) {
        if (context == null) {
            return DotProductAttention.selfAttend(layer, hidden);
        }
        IpProjection ip = projections.get(layer.name());
        if (ip == null) {
            throw new IllegalArgumentException("ms-diffusion attention has no adapter weights for layer "
                    + layer.name() + "; it was bound to another UNet");
        }
        ContextProjections projections = ContextProjections.of(ctx);
        if (context.subjects().isEmpty()) {
            return DotProductAttention.crossAttend(layer, hidden, projections.get(layer, context.text(), layer::key,
                    layer::value));
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
        ContextProjections.KeyValue text = projections.get(layer, context.text(), layer::key, layer::value);
        ContextProjections.KeyValue image = projections.get(ip, subjects.tokens(),
                tokens -> kernels.linear(tokens, ip.key(), null), tokens -> kernels.linear(tokens, ip.value(), null));
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

    /** The box masks of one grid size for the subjects in {@code ctx}, computed on first use (tests read them). */
    static LayoutMask mask(GenerationContext ctx, SubjectConditioning subjects, int gridHeight, int gridWidth) {
        return LayoutState.of(ctx, subjects).boxMask(gridHeight, gridWidth);
    }

    @Override
    public void close() {
        weightsManager.close();
    }
}

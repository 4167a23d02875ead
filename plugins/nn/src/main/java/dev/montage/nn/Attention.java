package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.Kernels;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.EncoderContext;
import java.util.Objects;

/**
 * diffusers' {@code Attention} as the transformer blocks of SD UNets build it: {@code to_q}, {@code to_k},
 * {@code to_v} without bias, {@code to_out.0} with bias. How attention is computed is up to the installed
 * {@link AttentionProcessor} (plain scaled dot-product attention until the pipeline installs others).
 */
public final class Attention implements AttentionLayer {
    private final AttentionLayerSpec spec;
    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear toOut;
    private final Kernels kernels;
    /** Chosen at pipeline assembly, before any generation; read by every call. */
    private volatile AttentionProcessor processor = DefaultAttention.INSTANCE;

    /**
     * @param p          the layer's weights ({@code to_q.weight}, ...)
     * @param contextDim width of the encoder context for cross-attention, or 0 for self-attention
     * @param kernels    the host's kernels; null when {@code p} only records shapes
     */
    public Attention(Weights p, String name, int channels, int heads, int contextDim, Kernels kernels) {
        this.spec = new AttentionLayerSpec(name, channels, heads, contextDim);
        this.kernels = kernels;
        int keyInput = spec.isCrossAttention() ? contextDim : channels;
        toQ = Linear.withoutBias(p, "to_q", channels, channels);
        toK = Linear.withoutBias(p, "to_k", keyInput, channels);
        toV = Linear.withoutBias(p, "to_v", keyInput, channels);
        toOut = Linear.withBias(p, "to_out.0", channels, channels);
    }

    /** Installs the processor that computes this layer from now on (pipeline assembly, before generating). */
    public void use(AttentionProcessor p) {
        this.processor = Objects.requireNonNull(p, () -> "no attention processor for layer " + spec.name());
    }

    /**
     * @param hidden  [B, H*W, C]
     * @param context what cross-attention attends to, ignored for self-attention
     * @return [B, H*W, C], attached to the manager of {@code hidden}
     */
    public NDArray forward(NDArray hidden, EncoderContext context, int gridHeight, int gridWidth,
            GenerationContext ctx) {
        return processor.forward(this, hidden, spec.isCrossAttention() ? context : null, gridHeight, gridWidth, ctx);
    }

    /**
     * Lets the processor of a cross-attention layer prepare for a generation's context before its first step
     * ({@link AttentionProcessor#prepare}); self-attention has nothing to prepare.
     */
    public void prepare(EncoderContext context, GenerationContext ctx) {
        if (spec.isCrossAttention()) {
            processor.prepare(this, context, ctx);
        }
    }

    /** The layer's shape, as adapters bind to it. */
    public AttentionLayerSpec spec() {
        return spec;
    }

    @Override
    public String name() {
        return spec.name();
    }

    @Override
    public int heads() {
        return spec.heads();
    }

    @Override
    public boolean isCrossAttention() {
        return spec.isCrossAttention();
    }

    @Override
    public NDArray query(NDArray hidden) {
        return toQ.forward(hidden);
    }

    @Override
    public NDArray key(NDArray context) {
        return toK.forward(context);
    }

    @Override
    public NDArray value(NDArray context) {
        return toV.forward(context);
    }

    @Override
    public NDArray output(NDArray attended) {
        return toOut.forward(attended);
    }

    @Override
    public Kernels kernels() {
        return kernels;
    }

    @Override
    public String toString() {
        return spec.name();
    }
}

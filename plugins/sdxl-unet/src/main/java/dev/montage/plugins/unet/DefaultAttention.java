package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionProcessor;

/**
 * diffusers' {@code AttnProcessor2_0}: {@code to_out(sdpa(to_q(x), to_k(c), to_v(c)))} with {@code c} the encoder
 * context for cross-attention and {@code x} itself for self-attention, through the host's fused kernel. The keys and
 * values of the encoder context are projected once per generation ({@link ContextProjections}).
 *
 * <p>Stateless; one instance serves every layer and generation. (diffusers' {@code upcast_attention} does not
 * apply here: {@code AttnProcessor2_0} ignores it as well.)
 */
final class DefaultAttention implements AttentionProcessor {
    static final DefaultAttention INSTANCE = new DefaultAttention();

    private DefaultAttention() {
    }

    @Override
    public NDArray forward(AttentionLayer layer, NDArray hidden, NDArray context, int gridHeight, int gridWidth,
            GenerationContext ctx) {
        if (context == null) {
            return attend(layer, hidden, null);
        }
        return crossAttend(layer, hidden, ContextProjections.of(ctx).get(layer, context, 0, context.getShape().get(1),
                layer::key, layer::value));
    }

    /**
     * Plain multi-head attention of {@code hidden} over {@code context} (or itself when {@code context} is null).
     *
     * @return [B, L, C], attached to the manager of {@code hidden}
     */
    static NDArray attend(AttentionLayer layer, NDArray hidden, NDArray context) {
        NDManager caller = hidden.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray x = Scopes.borrow(hidden, scope);
            NDArray source = context == null ? x : Scopes.borrow(context, scope);
            return attended(layer, x, layer.key(source), layer.value(source), caller);
        }
    }

    /**
     * Plain multi-head cross-attention of {@code hidden} over keys and values projected beforehand.
     *
     * @return [B, L, C], attached to the manager of {@code hidden}
     */
    static NDArray crossAttend(AttentionLayer layer, NDArray hidden, ContextProjections.KeyValue projected) {
        NDManager caller = hidden.getManager();
        try (NDManager scope = caller.newSubManager()) {
            return attended(layer, Scopes.borrow(hidden, scope), projected.key(scope), projected.value(scope), caller);
        }
    }

    /** {@code to_out(sdpa(to_q(x), key, value))} with every intermediate in the scope of {@code x}. */
    private static NDArray attended(AttentionLayer layer, NDArray x, NDArray key, NDArray value, NDManager caller) {
        int heads = layer.heads();
        NDArray attended = layer.kernels().scaledDotProductAttention(Heads.split(layer.query(x), heads),
                Heads.split(key, heads), Heads.split(value, heads), null);
        NDArray out = layer.output(Heads.merge(attended));
        out.attach(caller);
        return out;
    }
}

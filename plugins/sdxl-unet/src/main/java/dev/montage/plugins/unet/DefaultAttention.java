package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionProcessor;

/**
 * diffusers' {@code AttnProcessor2_0}: {@code to_out(sdpa(to_q(x), to_k(c), to_v(c)))} with {@code c} the encoder
 * context for cross-attention and {@code x} itself for self-attention, through the host's fused kernel.
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
        return attend(layer, hidden, context);
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
            NDArray q = Heads.split(layer.query(x), layer.heads());
            NDArray k = Heads.split(layer.key(source), layer.heads());
            NDArray v = Heads.split(layer.value(source), layer.heads());
            NDArray attended = layer.kernels().scaledDotProductAttention(q, k, v, null);
            NDArray out = layer.output(Heads.merge(attended));
            out.attach(caller);
            return out;
        }
    }
}

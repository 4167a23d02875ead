package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.AttentionLayer;

/**
 * Plain multi-head attention through the host's fused scaled-dot-product kernel, as diffusers' {@code AttnProcessor2_0}
 * computes it: {@code to_out(sdpa(to_q(x), key, value))}. Attention processors build on it.
 */
public final class DotProductAttention {
    private DotProductAttention() {
    }

    /**
     * Self-attention of {@code hidden}.
     *
     * @return [B, L, C], attached to the manager of {@code hidden}
     */
    public static NDArray selfAttend(AttentionLayer layer, NDArray hidden) {
        NDManager caller = hidden.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray x = Scopes.borrow(hidden, scope);
            return attended(layer, x, layer.key(x), layer.value(x), caller);
        }
    }

    /**
     * Cross-attention of {@code hidden} over keys and values projected beforehand.
     *
     * @return [B, L, C], attached to the manager of {@code hidden}
     */
    public static NDArray crossAttend(AttentionLayer layer, NDArray hidden, ContextProjections.KeyValue projected) {
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

package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.EncoderContext;

/**
 * diffusers' {@code AttnProcessor2_0}: {@code to_out(sdpa(to_q(x), to_k(c), to_v(c)))} with {@code c} the text
 * tokens of the encoder context for cross-attention (the subjects, when the generation has any, are not its concern)
 * and {@code x} itself for self-attention, through the host's fused kernel. The keys and values of the text tokens are
 * projected once per generation ({@link ContextProjections}).
 *
 * <p>Stateless; one instance serves every layer and generation. (diffusers' {@code upcast_attention} does not
 * apply here: {@code AttnProcessor2_0} ignores it as well.)
 */
final class DefaultAttention implements AttentionProcessor {
    static final DefaultAttention INSTANCE = new DefaultAttention();

    private DefaultAttention() {
    }

    @Override
    public NDArray forward(AttentionLayer layer, NDArray hidden, EncoderContext context, int gridHeight, int gridWidth,
            GenerationContext ctx) {
        if (context == null) {
            return selfAttend(layer, hidden);
        }
        return crossAttend(layer, hidden, ContextProjections.of(ctx).get(layer, context.text(), layer::key,
                layer::value));
    }

    /**
     * Plain multi-head attention of {@code hidden} over {@code context} (or itself when {@code context} is null).
     *
     * @return [B, L, C], attached to the manager of {@code hidden}
     */
    static NDArray selfAttend(AttentionLayer layer, NDArray hidden) {
        NDManager caller = hidden.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray x = Scopes.borrow(hidden, scope);
            return attended(layer, x, layer.key(x), layer.value(x), caller);
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

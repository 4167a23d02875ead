package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import dev.montage.api.GenerationContext;
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
public final class DefaultAttention implements AttentionProcessor {
    /** The one instance. */
    public static final DefaultAttention INSTANCE = new DefaultAttention();

    private DefaultAttention() {
    }

    @Override
    public NDArray forward(AttentionLayer layer, NDArray hidden, EncoderContext context, int gridHeight, int gridWidth,
            GenerationContext ctx) {
        if (context == null) {
            return DotProductAttention.selfAttend(layer, hidden);
        }
        return DotProductAttention.crossAttend(layer, hidden, ContextProjections.of(ctx).text(layer, context.text()));
    }

    @Override
    public void prepare(AttentionLayer layer, EncoderContext context, GenerationContext ctx) {
        ContextProjections.of(ctx).text(layer, context.text());
    }
}

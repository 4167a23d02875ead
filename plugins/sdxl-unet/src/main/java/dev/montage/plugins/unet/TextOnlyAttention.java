package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import dev.montage.api.GenerationContext;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionProcessor;

/**
 * Cross-attention over the text tokens only: keys and values come from the first {@code textTokens} tokens of
 * the encoder context, so a ControlNet ignores the image tokens MS-Diffusion appends (the intent of MS-Diffusion's
 * {@code CNAttnProcessor2_0}). Equal to plain attention on a context of only the text tokens; self-attention is
 * plain attention.
 */
final class TextOnlyAttention implements AttentionProcessor {
    private final int textTokens;

    /** @param textTokens tokens of the text encoder at the start of the context (77) */
    TextOnlyAttention(int textTokens) {
        if (textTokens <= 0) {
            throw new IllegalArgumentException("text-only attention needs a positive text token count, got "
                    + textTokens);
        }
        this.textTokens = textTokens;
    }

    @Override
    public NDArray forward(AttentionLayer layer, NDArray hidden, NDArray context, int gridHeight, int gridWidth,
            GenerationContext ctx) {
        if (context == null) {
            return DefaultAttention.attend(layer, hidden, null);
        }
        long text = Math.min(textTokens, context.getShape().get(1));
        return DefaultAttention.crossAttend(layer, hidden, ContextProjections.of(ctx).get(layer, context, 0, text,
                layer::key, layer::value));
    }
}

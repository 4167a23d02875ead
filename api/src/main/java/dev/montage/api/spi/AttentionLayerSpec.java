package dev.montage.api.spi;

import java.util.Objects;

/**
 * The shape of one attention layer of a denoising model, without its weights: what an adapter needs to bind
 * per-layer weights (e.g. its own key and value projections of the encoder context) and to lay them out.
 *
 * @param name            dotted name as in the checkpoint, e.g. {@code down_blocks.1.attentions.0.transformer_blocks.0.attn2}
 * @param channels        width of the hidden states (and of the layer's query)
 * @param heads           number of heads
 * @param contextChannels width of the encoder context the layer attends to, 0 for self-attention
 */
public record AttentionLayerSpec(String name, int channels, int heads, int contextChannels) {

    public AttentionLayerSpec {
        Objects.requireNonNull(name, "name");
        if (channels <= 0 || heads <= 0 || contextChannels < 0) {
            throw new IllegalArgumentException("attention layer " + name + ": channels and heads are positive and the "
                    + "context width is 0 or positive, got " + channels + ", " + heads + ", " + contextChannels);
        }
    }

    /** Whether keys and values come from an encoder context rather than the hidden states. */
    public boolean isCrossAttention() {
        return contextChannels > 0;
    }
}

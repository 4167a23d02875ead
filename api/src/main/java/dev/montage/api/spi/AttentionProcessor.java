package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import dev.montage.api.GenerationContext;

/**
 * Computes one attention layer. Chosen per layer when a pipeline is assembled (by layer-name pattern);
 * per-generation state lives in the {@link GenerationContext}, never in the processor, so one processor
 * instance may serve concurrent generations.
 */
public interface AttentionProcessor {

    /**
     * @param layer   the layer's projections
     * @param hidden  [B, L, C] query-side hidden states, L = gridHeight * gridWidth
     * @param context what a cross-attention layer attends to, {@code null} for self-attention
     * @param gridHeight rows of the latent grid at this layer's resolution
     * @param gridWidth  columns of that grid
     * @return [B, L, C], before the block's residual addition
     */
    NDArray forward(AttentionLayer layer, NDArray hidden, EncoderContext context, int gridHeight, int gridWidth,
            GenerationContext ctx);

    /**
     * Called once per generation for each cross-attention layer, before the first step, with the context every step
     * passes: a processor computes here what depends on that context alone (the keys and values of its tokens), so
     * that the first step costs what the later ones do. What it computes belongs in {@code ctx}.
     *
     * @param layer   the layer's projections
     * @param context what the layer will attend to
     */
    default void prepare(AttentionLayer layer, EncoderContext context, GenerationContext ctx) {
    }
}

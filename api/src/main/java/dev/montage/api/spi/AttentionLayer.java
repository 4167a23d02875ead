package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/**
 * One attention layer of a model as its processor sees it: its projections and shape, nothing else.
 * The layer owns the weights; the {@link AttentionProcessor} decides how attention is computed.
 */
public interface AttentionLayer {

    /** Dotted name as in the checkpoint, e.g. {@code down_blocks.1.attentions.0.transformer_blocks.0.attn2}. */
    String name();

    /** Number of heads. */
    int heads();

    /** Whether keys and values come from an encoder context (attn2) rather than the hidden states (attn1). */
    boolean isCrossAttention();

    /** {@code to_q}: [B, L, C] to [B, L, heads*dimHead]. */
    NDArray query(NDArray hidden);

    /** {@code to_k}: [B, S, Cc] to [B, S, heads*dimHead]. */
    NDArray key(NDArray context);

    /** {@code to_v}: [B, S, Cc] to [B, S, heads*dimHead]. */
    NDArray value(NDArray context);

    /** {@code to_out} (linear, then dropout which is identity at inference): [B, L, heads*dimHead] to [B, L, C]. */
    NDArray output(NDArray attended);

    /** The host's fused kernels, for the processor's use. */
    Kernels kernels();
}

package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.Attention;
import dev.montage.nn.FeedForward;
import dev.montage.nn.LayerNorm;
import dev.montage.nn.Weights;

/**
 * diffusers' {@code BasicTransformerBlock} (layer-norm variant): self-attention, cross-attention to the encoder
 * context and a GEGLU feed-forward, each pre-normed and added to the residual.
 */
final class BasicTransformerBlock {
    /** diffusers' default {@code norm_eps} of the transformer blocks' layer norms. */
    private static final float LAYER_NORM_EPS = 1e-5f;

    private final String name;
    private final LayerNorm norm1;
    private final Attention attn1;
    private final LayerNorm norm2;
    private final Attention attn2;
    private final LayerNorm norm3;
    private final FeedForward ff;

    BasicTransformerBlock(Weights p, String name, int dim, int heads, int contextDim, Kernels kernels) {
        this.name = name;
        norm1 = LayerNorm.load(p, "norm1", dim, LAYER_NORM_EPS);
        attn1 = new Attention(p.prefixed("attn1"), name + ".attn1", dim, heads, 0, kernels);
        norm2 = LayerNorm.load(p, "norm2", dim, LAYER_NORM_EPS);
        attn2 = new Attention(p.prefixed("attn2"), name + ".attn2", dim, heads, contextDim, kernels);
        norm3 = LayerNorm.load(p, "norm3", dim, LAYER_NORM_EPS);
        ff = new FeedForward(p.prefixed("ff"), dim);
    }

    /** {@code attn1} then {@code attn2}, the order of diffusers' processor registry. */
    Attention[] attentions() {
        return new Attention[] {attn1, attn2};
    }

    /**
     * @param x [B, H*W, C] tokens of a {@code gridHeight x gridWidth} latent grid
     * @return [B, H*W, C], attached to the manager of {@code x}
     */
    NDArray forward(NDArray x, int gridHeight, int gridWidth, UNetPass pass) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray h = Scopes.borrow(x, scope);
            NDArray n1 = norm1.forward(h);
            pass.record(name + ".norm1", n1);
            NDArray a1 = attn1.forward(n1, null, gridHeight, gridWidth, pass.ctx());
            pass.record(name + ".attn1", a1);
            h = a1.add(h);
            NDArray n2 = norm2.forward(h);
            pass.record(name + ".norm2", n2);
            NDArray a2 = attn2.forward(n2, pass.context(), gridHeight, gridWidth, pass.ctx());
            pass.record(name + ".attn2", a2);
            h = a2.add(h);
            NDArray n3 = norm3.forward(h);
            pass.record(name + ".norm3", n3);
            NDArray f = ff.forward(n3);
            pass.record(name + ".ff", f);
            NDArray out = f.addi(h);
            pass.record(name, out);
            out.attach(caller);
            return out;
        }
    }
}

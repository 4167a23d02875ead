package dev.montage.plugins.vae;

import dev.montage.api.host.Scopes;
import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/**
 * {@code mid_block.attentions.0}: diffusers' {@code Attention} as the VAE builds it: group-normed spatial
 * self-attention over the h*w positions with one head as wide as the channels ({@code attention_head_dim} =
 * channels, so heads = 1 and the scale is 1/sqrt(channels)), biased projections, residual connection,
 * output rescale factor 1.
 *
 * <p>Checkpoints saved before diffusers 0.14 name the projections {@code query}/{@code key}/{@code value}/
 * {@code proj_attn}; diffusers renames them on load to {@code to_q}/{@code to_k}/{@code to_v}/{@code to_out.0},
 * and so does this class.
 */
final class MidBlockAttention {
    private final GroupNormLayer groupNorm;
    private final NDArray qWeight;
    private final NDArray qBias;
    private final NDArray kWeight;
    private final NDArray kBias;
    private final NDArray vWeight;
    private final NDArray vBias;
    private final NDArray outWeight;
    private final NDArray outBias;
    private final Kernels kernels;

    MidBlockAttention(VaeWeights w, int channels, int groups, Kernels kernels) {
        this.kernels = kernels;
        groupNorm = new GroupNormLayer(w, "group_norm", channels, groups, kernels);
        String q = projection(w, "to_q", "query");
        String k = projection(w, "to_k", "key");
        String v = projection(w, "to_v", "value");
        String out = projection(w, "to_out.0", "proj_attn");
        qWeight = w.get(q + ".weight", channels, channels);
        qBias = w.get(q + ".bias", channels);
        kWeight = w.get(k + ".weight", channels, channels);
        kBias = w.get(k + ".bias", channels);
        vWeight = w.get(v + ".weight", channels, channels);
        vBias = w.get(v + ".bias", channels);
        outWeight = w.get(out + ".weight", channels, channels);
        outBias = w.get(out + ".bias", channels);
    }

    private static String projection(VaeWeights w, String name, String legacyName) {
        return !w.contains(name + ".weight") && w.contains(legacyName + ".weight") ? legacyName : name;
    }

    /** @param x [B, C, H, W] */
    NDArray forward(NDArray x) {
        return Scopes.scoped(x, input -> {
            long b = input.getShape().get(0);
            long c = input.getShape().get(1);
            long h = input.getShape().get(2);
            long wd = input.getShape().get(3);
            NDArray tokens = groupNorm.forward(input).reshape(b, c, h * wd).transpose(0, 2, 1);
            NDArray q = kernels.linear(tokens, qWeight, qBias);
            NDArray k = kernels.linear(tokens, kWeight, kBias);
            NDArray v = kernels.linear(tokens, vWeight, vBias);
            NDArray attended = kernels.scaledDotProductAttention(q, k, v, null);
            NDArray out = kernels.linear(attended, outWeight, outBias);
            return out.transpose(0, 2, 1).reshape(b, c, h, wd).add(input);
        });
    }
}

package dev.montage.plugins.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.GroupNorm;
import dev.montage.nn.Linear;
import dev.montage.nn.Weights;

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
    private final GroupNorm groupNorm;
    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear toOut;
    private final Kernels kernels;

    MidBlockAttention(Weights w, int channels, int groups) {
        this.kernels = w.kernels();
        groupNorm = GroupNorm.load(w, "group_norm", channels, groups, VaeConfig.NORM_EPS);
        toQ = Linear.withBias(w, projection(w, "to_q", "query"), channels, channels);
        toK = Linear.withBias(w, projection(w, "to_k", "key"), channels, channels);
        toV = Linear.withBias(w, projection(w, "to_v", "value"), channels, channels);
        toOut = Linear.withBias(w, projection(w, "to_out.0", "proj_attn"), channels, channels);
    }

    private static String projection(Weights w, String name, String legacyName) {
        return !w.contains(name + ".weight") && w.contains(legacyName + ".weight") ? legacyName : name;
    }

    /** @param x [B, C, H, W] */
    NDArray forward(NDArray x) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray input = Scopes.borrow(x, scope);
            long b = input.getShape().get(0);
            long c = input.getShape().get(1);
            long h = input.getShape().get(2);
            long wd = input.getShape().get(3);
            NDArray tokens = groupNorm.forward(input).reshape(b, c, h * wd).transpose(0, 2, 1);
            NDArray attended = kernels.scaledDotProductAttention(toQ.forward(tokens), toK.forward(tokens),
                    toV.forward(tokens), null);
            NDArray out = toOut.forward(attended);
            NDArray result = out.transpose(0, 2, 1).reshape(b, c, h, wd).add(input);
            result.attach(caller);
            return result;
        }
    }
}

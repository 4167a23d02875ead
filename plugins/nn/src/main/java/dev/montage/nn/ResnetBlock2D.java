package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;

/**
 * diffusers' {@code ResnetBlock2D}:
 * {@code (shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))) [+ time_emb_proj(silu(temb))])))) / scale}; the
 * shortcut is a 1x1 {@code conv_shortcut} when the channel count changes, the time term only where the block has a
 * time embedding (the UNet's, not the VAE's).
 */
public final class ResnetBlock2D {
    private final GroupNorm norm1;
    private final Conv2d conv1;
    /** Null without time embedding. */
    private final Linear timeEmbProj;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    /** Null when the channel count stays. */
    private final Conv2d convShortcut;
    private final float outputScaleFactor;

    /**
     * @param timeEmbedDim      width of the time embedding, 0 for a block without one
     * @param outputScaleFactor what the sum is divided by (1 in most blocks)
     */
    public ResnetBlock2D(Weights w, int in, int out, int groups, double eps, int timeEmbedDim,
            float outputScaleFactor) {
        this.outputScaleFactor = outputScaleFactor;
        norm1 = GroupNorm.load(w, "norm1", in, groups, eps);
        conv1 = Conv2d.same(w, "conv1", in, out, 3);
        timeEmbProj = timeEmbedDim == 0 ? null : Linear.withBias(w, "time_emb_proj", timeEmbedDim, out);
        norm2 = GroupNorm.load(w, "norm2", out, groups, eps);
        conv2 = Conv2d.same(w, "conv2", out, out, 3);
        convShortcut = in == out ? null : Conv2d.pointwise(w, "conv_shortcut", in, out);
    }

    /**
     * @param x             [B, in, H, W]
     * @param activatedTemb {@code silu(temb)} [B, timeEmbedDim], or null for a block without time embedding
     * @return [B, out, H, W], attached to the manager of {@code x}
     */
    public NDArray forward(NDArray x, NDArray activatedTemb) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray input = Scopes.borrow(x, scope);
            // each intermediate is closed once used: at a VAE's full resolution one is hundreds of megabytes
            NDArray h = norm1.forwardSilu(input);
            h = Scopes.replace(h, conv1.forward(h));
            if (timeEmbProj != null) {
                NDArray t = timeEmbProj.forward(Scopes.borrow(activatedTemb, scope));
                // the sums go into the convolutions' own results: fewer fresh arrays per block
                h.addi(t.expandDims(2).expandDims(3));
            }
            h = Scopes.replace(h, norm2.forwardSilu(h));
            h = Scopes.replace(h, conv2.forward(h));
            NDArray out = h.addi(convShortcut == null ? input : convShortcut.forward(input));
            if (outputScaleFactor != 1f) {
                out.divi(outputScaleFactor);
            }
            out.attach(caller);
            return out;
        }
    }
}

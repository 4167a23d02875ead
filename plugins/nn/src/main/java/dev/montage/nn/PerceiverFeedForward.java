package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;

/**
 * The Perceiver resampler's feed-forward of IP-Adapter Plus and MS-Diffusion ({@code layers.N.1}):
 * {@code nn.Sequential(LayerNorm, Linear(dim, inner, bias=False), GELU, Linear(inner, dim, bias=False))}, hence the
 * weight names {@code 0}, {@code 1} and {@code 3}.
 */
public final class PerceiverFeedForward {
    private final LayerNorm norm;
    private final Linear up;
    private final Linear down;
    private final Kernels kernels;

    /** @param innerDim the hidden width ({@code dim × ff_mult}) */
    public PerceiverFeedForward(Weights w, int dim, int innerDim) {
        this.kernels = w.kernels();
        norm = LayerNorm.load(w, "0", dim, LayerNorm.DEFAULT_EPS);
        up = Linear.withoutBias(w, "1", dim, innerDim);
        down = Linear.withoutBias(w, "3", innerDim, dim);
    }

    /**
     * @param latents [B, Q, dim]
     * @return [B, Q, dim] (before the residual), attached to the manager of {@code latents}
     */
    public NDArray forward(NDArray latents) {
        try (NDManager scope = latents.getManager().newSubManager()) {
            NDArray h = up.forward(norm.forward(Scopes.borrow(latents, scope)));
            NDArray out = down.forward(kernels.gelu(h, false));
            out.attach(latents.getManager());
            return out;
        }
    }
}

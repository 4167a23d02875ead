package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.LayerNorm;
import dev.montage.nn.Linear;
import dev.montage.nn.Weights;

/**
 * {@code layers.N.1}: {@code nn.Sequential(LayerNorm, Linear(dim, inner, bias=False), GELU,
 * Linear(inner, dim, bias=False))}, hence the weight names {@code 0}, {@code 1} and {@code 3}.
 */
final class PerceiverFeedForward {
    private final LayerNorm norm;
    private final Linear up;
    private final Linear down;
    private final Kernels kernels;

    PerceiverFeedForward(Weights w, ResamplerConfig config) {
        this.kernels = w.kernels();
        norm = LayerNorm.load(w, "0", config.dim(), LayerNorm.DEFAULT_EPS);
        up = Linear.withoutBias(w, "1", config.dim(), config.ffInnerDim());
        down = Linear.withoutBias(w, "3", config.ffInnerDim(), config.dim());
    }

    /**
     * @param latents [B, Q, dim]
     * @return [B, Q, dim] (before the residual), attached to the manager of {@code latents}
     */
    NDArray forward(NDArray latents) {
        try (NDManager scope = latents.getManager().newSubManager()) {
            NDArray h = up.forward(norm.forward(Scopes.borrow(latents, scope)));
            NDArray out = down.forward(kernels.gelu(h, false));
            out.attach(latents.getManager());
            return out;
        }
    }
}

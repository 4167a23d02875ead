package dev.montage.plugins.resampler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;

/**
 * {@code layers.N.1}: {@code nn.Sequential(LayerNorm, Linear(dim, inner, bias=False), GELU,
 * Linear(inner, dim, bias=False))}, hence the weight names {@code 0}, {@code 1} and {@code 3}.
 */
final class FeedForward {
    private final LayerNormWeights norm;
    private final LinearWeights up;
    private final LinearWeights down;
    private final Kernels kernels;

    FeedForward(ModelWeights w, NDManager manager, ResamplerConfig config, Kernels kernels) {
        this.kernels = kernels;
        norm = LayerNormWeights.load(w, "0", manager, config.dim());
        up = LinearWeights.withoutBias(w, "1", manager, config.dim(), config.ffInnerDim());
        down = LinearWeights.withoutBias(w, "3", manager, config.ffInnerDim(), config.dim());
    }

    /**
     * @param latents [B, Q, dim]
     * @return [B, Q, dim] (before the residual), attached to the manager of {@code latents}
     */
    NDArray forward(NDArray latents) {
        try (NDManager scope = latents.getManager().newSubManager()) {
            NDArray h = up.apply(norm.apply(Scopes.borrow(latents, scope)), kernels);
            NDArray out = down.apply(kernels.gelu(h, false), kernels);
            out.attach(latents.getManager());
            return out;
        }
    }
}

package dev.montage.plugins.vae;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/** An affine {@code nn.GroupNorm}: {@code <name>.weight} and {@code <name>.bias} [channels]. */
final class GroupNormLayer {
    private final NDArray weight;
    private final NDArray bias;
    private final int groups;
    private final Kernels kernels;

    GroupNormLayer(VaeWeights w, String name, int channels, int groups, Kernels kernels) {
        this.weight = w.get(name + ".weight", channels);
        this.bias = w.get(name + ".bias", channels);
        this.groups = groups;
        this.kernels = kernels;
    }

    NDArray forward(NDArray x) {
        return kernels.groupNorm(x, groups, weight, bias, VaeConfig.NORM_EPS);
    }

    /** {@code silu(forward(x))} in one array. */
    NDArray forwardSilu(NDArray x) {
        return kernels.groupNormSilu(x, groups, weight, bias, VaeConfig.NORM_EPS);
    }
}

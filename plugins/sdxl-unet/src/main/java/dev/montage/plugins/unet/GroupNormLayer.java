package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/** An affine {@code nn.GroupNorm} over axis 1 of [N, C, ...], through the host's fused kernel. */
record GroupNormLayer(NDArray weight, NDArray bias, int groups, double eps, Kernels kernels) {

    /** {@code <name>.weight} and {@code <name>.bias}, both [channels]. */
    static GroupNormLayer load(Params p, String name, long channels, int groups, double eps, Kernels kernels) {
        return new GroupNormLayer(p.get(name + ".weight", channels), p.get(name + ".bias", channels), groups, eps,
                kernels);
    }

    /** The result is attached to the manager of {@code x}. */
    NDArray apply(NDArray x) {
        return kernels.groupNorm(x, groups, weight, bias, eps);
    }

    /** {@code silu(apply(x))} in one array. */
    NDArray applySilu(NDArray x) {
        return kernels.groupNormSilu(x, groups, weight, bias, eps);
    }
}

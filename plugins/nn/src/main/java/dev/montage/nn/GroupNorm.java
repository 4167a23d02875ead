package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/** An affine {@code nn.GroupNorm} over axis 1 of [N, C, ...], through the host's fused kernel. */
public record GroupNorm(NDArray weight, NDArray bias, int groups, double eps, Kernels kernels) {

    /** {@code <name>.weight} and {@code <name>.bias}, both [channels]. */
    public static GroupNorm load(Weights w, String name, long channels, int groups, double eps) {
        return new GroupNorm(w.get(name + ".weight", channels), w.get(name + ".bias", channels), groups, eps,
                w.kernels());
    }

    /** The result is attached to the manager of {@code x}. */
    public NDArray forward(NDArray x) {
        return kernels.groupNorm(x, groups, weight, bias, eps);
    }

    /** {@code silu(forward(x))} in one array. */
    public NDArray forwardSilu(NDArray x) {
        return kernels.groupNormSilu(x, groups, weight, bias, eps);
    }
}

package dev.montage.plugins.vae;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/**
 * A square-kernel {@code nn.Conv2d} with bias: {@code <name>.weight} [out, in, k, k], {@code <name>.bias} [out].
 * It runs through the host's {@link Kernels#conv2d}, which keeps the 3- and 8-channel {@code conv_out}s and the
 * 4-channel quant convolutions correct in bf16.
 */
final class Conv2dLayer {
    private final NDArray weight;
    private final NDArray bias;
    private final int stride;
    private final int padding;
    private final Kernels kernels;

    Conv2dLayer(VaeWeights w, String name, int in, int out, int kernel, int stride, int padding) {
        this.weight = w.get(name + ".weight", out, in, kernel, kernel);
        this.bias = w.get(name + ".bias", out);
        this.stride = stride;
        this.padding = padding;
        this.kernels = w.kernels();
    }

    /** 3x3, stride 1, padding 1: keeps the resolution. */
    static Conv2dLayer same3x3(VaeWeights w, String name, int in, int out) {
        return new Conv2dLayer(w, name, in, out, 3, 1, 1);
    }

    /** 1x1 projection. */
    static Conv2dLayer pointwise(VaeWeights w, String name, int in, int out) {
        return new Conv2dLayer(w, name, in, out, 1, 1, 0);
    }

    NDArray forward(NDArray x) {
        return kernels.conv2d(x, weight, bias, stride, padding);
    }
}

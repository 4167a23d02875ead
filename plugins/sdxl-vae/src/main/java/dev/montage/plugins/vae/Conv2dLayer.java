package dev.montage.plugins.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;

/** A square-kernel {@code nn.Conv2d} with bias: {@code <name>.weight} [out, in, k, k], {@code <name>.bias} [out]. */
final class Conv2dLayer {
    private static final Shape NO_DILATION = new Shape(1, 1);
    private final NDArray weight;
    private final NDArray bias;
    private final Shape stride;
    private final Shape padding;

    Conv2dLayer(VaeWeights w, String name, int in, int out, int kernel, int stride, int padding) {
        this.weight = w.get(name + ".weight", out, in, kernel, kernel);
        this.bias = w.get(name + ".bias", out);
        this.stride = new Shape(stride, stride);
        this.padding = new Shape(padding, padding);
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
        return Conv2d.conv2d(x, weight, bias, stride, padding, NO_DILATION, 1).singletonOrThrow();
    }
}

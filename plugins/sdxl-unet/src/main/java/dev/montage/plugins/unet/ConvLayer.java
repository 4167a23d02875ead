package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/** An {@code nn.Conv2d} with a square kernel, bias, equal stride and padding on both axes. */
record ConvLayer(NDArray weight, NDArray bias, int stride, int padding) {

    /** {@code <name>.weight} [out, in, k, k] and {@code <name>.bias} [out]. */
    static ConvLayer load(Params p, String name, long in, long out, int kernel, int stride, int padding) {
        return new ConvLayer(p.get(name + ".weight", out, in, kernel, kernel), p.get(name + ".bias", out), stride,
                padding);
    }

    /** A same-size convolution (stride 1, padding k/2). */
    static ConvLayer same(Params p, String name, long in, long out, int kernel) {
        return load(p, name, in, out, kernel, 1, kernel / 2);
    }

    /**
     * Through the host's {@link Kernels#conv2d}, which keeps bf16 layers of any width correct ({@code conv_out}'s
     * 4 channels, a ControlNet's narrow conditioning layers). The result is attached to the manager of {@code x}.
     */
    NDArray apply(NDArray x, Kernels kernels) {
        return kernels.conv2d(x, weight, bias, stride, padding);
    }
}

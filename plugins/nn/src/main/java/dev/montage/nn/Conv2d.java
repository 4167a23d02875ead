package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/**
 * An {@code nn.Conv2d} with a square kernel, bias, and equal stride and padding on both axes. It runs through the
 * host's {@link Kernels#conv2d}, which keeps bf16 layers of any width correct (a 4-channel {@code conv_out}, a
 * ControlNet's narrow conditioning layers).
 */
public record Conv2d(NDArray weight, NDArray bias, int stride, int padding, Kernels kernels) {

    /** {@code <name>.weight} [out, in, k, k] and {@code <name>.bias} [out]. */
    public static Conv2d load(Weights w, String name, long in, long out, int kernel, int stride, int padding) {
        return new Conv2d(w.get(name + ".weight", out, in, kernel, kernel), w.get(name + ".bias", out), stride,
                padding, w.kernels());
    }

    /** A same-size convolution (stride 1, padding k/2). */
    public static Conv2d same(Weights w, String name, long in, long out, int kernel) {
        return load(w, name, in, out, kernel, 1, kernel / 2);
    }

    /** A 1x1 projection. */
    public static Conv2d pointwise(Weights w, String name, long in, long out) {
        return load(w, name, in, out, 1, 1, 0);
    }

    /** The result is attached to the manager of {@code x}. */
    public NDArray forward(NDArray x) {
        return kernels.conv2d(x, weight, bias, stride, padding);
    }
}

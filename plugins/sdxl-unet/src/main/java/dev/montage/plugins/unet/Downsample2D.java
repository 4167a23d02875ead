package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;

/** diffusers' {@code Downsample2D} with a convolution: 3x3, stride 2 ({@code downsamplers.0.conv}). */
final class Downsample2D {
    private final String name;
    private final ConvLayer conv;
    private final Kernels kernels;

    Downsample2D(Params p, String name, int channels, int padding, Kernels kernels) {
        this.name = name;
        this.kernels = kernels;
        this.conv = ConvLayer.load(p, "conv", channels, channels, 3, 2, padding);
    }

    /** @return [B, C, ceil(H/2), ceil(W/2)] for padding 1, attached to the manager of {@code x} */
    NDArray forward(NDArray x, UNetPass pass) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray out = conv.apply(Scopes.borrow(x, scope), kernels);
            pass.record(name, out);
            out.attach(caller);
            return out;
        }
    }
}

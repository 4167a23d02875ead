package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;

/** diffusers' {@code Upsample2D} with a convolution: nearest-neighbour resize, then 3x3 {@code conv}. */
final class Upsample2D {
    /** PyTorch's {@code interpolate(mode="nearest")} in DJL's interpolation modes. */
    private static final int NEAREST = 0;

    private final String name;
    private final ConvLayer conv;
    private final Kernels kernels;

    Upsample2D(Params p, String name, int channels, Kernels kernels) {
        this.name = name;
        this.kernels = kernels;
        this.conv = ConvLayer.same(p, "conv", channels, channels, 3);
    }

    /**
     * @param x          [B, C, H, W]
     * @param outputSize {@code {height, width}} of the skip the result is concatenated with, when the latents are
     *                   not a multiple of the UNet's total downsampling; null for plain doubling
     * @return [B, C, 2H, 2W] or the given size, attached to the manager of {@code x}
     */
    NDArray forward(NDArray x, long[] outputSize, UNetPass pass) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray input = Scopes.borrow(x, scope);
            long[] size = outputSize != null ? outputSize
                    : new long[] {x.getShape().get(2) * 2, x.getShape().get(3) * 2};
            NDArray out = conv.apply(input.getNDArrayInternal().interpolation(size, NEAREST, false), kernels);
            pass.record(name, out);
            out.attach(caller);
            return out;
        }
    }
}

package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;

/** diffusers' {@code Upsample2D} with a convolution: nearest-neighbour resize, then a 3x3 {@code conv}. */
public final class Upsample2D {
    /** PyTorch's {@code interpolate(mode="nearest")} in DJL's interpolation modes (bf16-safe). */
    private static final int NEAREST = 0;

    private final Conv2d conv;

    public Upsample2D(Weights w, int channels) {
        this.conv = Conv2d.same(w, "conv", channels, channels, 3);
    }

    /**
     * @param x          [B, C, H, W]
     * @param outputSize {@code {height, width}} to resize to (a UNet's skip size, when the latents are not a multiple
     *                   of its total downsampling); null for plain doubling
     * @return [B, C, 2H, 2W] or the given size, attached to the manager of {@code x}
     */
    public NDArray forward(NDArray x, long[] outputSize) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray input = Scopes.borrow(x, scope);
            long[] size = outputSize != null ? outputSize
                    : new long[] {x.getShape().get(2) * 2, x.getShape().get(3) * 2};
            NDArray up = input.getNDArrayInternal().interpolation(size, NEAREST, false);
            NDArray out = Scopes.replace(up, conv.forward(up));
            out.attach(caller);
            return out;
        }
    }
}

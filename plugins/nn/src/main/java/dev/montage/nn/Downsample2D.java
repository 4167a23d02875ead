package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.Scopes;

/**
 * diffusers' {@code Downsample2D} with a convolution ({@code downsamplers.0.conv}, 3x3, stride 2): with symmetric
 * padding (a UNet's {@code downsample_padding}), or, for padding 0, after one zero row and column at the bottom and
 * right only, as diffusers pads there.
 */
public final class Downsample2D {
    /** (left, right, top, bottom) of the last two axes, as torch's {@code F.pad} reads it. */
    private static final Shape PAD_BOTTOM_RIGHT = new Shape(0, 1, 0, 1);

    private final Conv2d conv;

    /** @param padding the convolution's padding; 0 pads the bottom and right by one first */
    public Downsample2D(Weights w, int channels, int padding) {
        this.conv = Conv2d.load(w, "conv", channels, channels, 3, 2, padding);
    }

    /** @return [B, C, ceil(H/2), ceil(W/2)], attached to the manager of {@code x} */
    public NDArray forward(NDArray x) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray input = Scopes.borrow(x, scope);
            NDArray out = conv.forward(conv.padding() == 0 ? input.pad(PAD_BOTTOM_RIGHT, 0) : input);
            out.attach(caller);
            return out;
        }
    }
}

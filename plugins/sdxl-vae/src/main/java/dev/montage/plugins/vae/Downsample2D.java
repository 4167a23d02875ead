package dev.montage.plugins.vae;

import dev.montage.api.host.Scopes;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * {@code downsamplers.0}: the VAE encoder's 2x downsampling, a 3x3 stride-2 {@code conv} without padding after
 * padding one zero row and column at the bottom and right only (diffusers' {@code downsample_padding=0}).
 */
final class Downsample2D {
    /** (left, right, top, bottom) of the last two axes, as torch's {@code F.pad} reads it. */
    private static final Shape PAD_BOTTOM_RIGHT = new Shape(0, 1, 0, 1);
    private final Conv2dLayer conv;

    Downsample2D(VaeWeights w, int channels) {
        conv = new Conv2dLayer(w, "conv", channels, channels, 3, 2, 0);
    }

    NDArray forward(NDArray x) {
        return Scopes.scoped(x, input -> conv.forward(input.pad(PAD_BOTTOM_RIGHT, 0)));
    }
}

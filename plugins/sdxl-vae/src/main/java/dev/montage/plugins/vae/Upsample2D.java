package dev.montage.plugins.vae;

import dev.montage.api.host.Scopes;
import ai.djl.ndarray.NDArray;

/** {@code upsamplers.0}: nearest-neighbour 2x upsampling, then a 3x3 {@code conv}. */
final class Upsample2D {
    /** DJL's interpolation mode for nearest neighbour (bf16-safe, see runtime/KERNELS.md). */
    private static final int NEAREST = 0;
    private final Conv2dLayer conv;

    Upsample2D(VaeWeights w, int channels) {
        conv = Conv2dLayer.same3x3(w, "conv", channels, channels);
    }

    NDArray forward(NDArray x) {
        return Scopes.scoped(x, input -> {
            long h = input.getShape().get(2);
            long wd = input.getShape().get(3);
            NDArray up = input.getNDArrayInternal().interpolation(new long[] {2 * h, 2 * wd}, NEAREST, false);
            return conv.forward(up);
        });
    }
}

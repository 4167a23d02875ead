package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/** diffusers' {@code TimestepEmbedding}: {@code linear_2(silu(linear_1(x)))}. */
final class TimestepEmbedding {
    private final LinearLayer linear1;
    private final LinearLayer linear2;
    private final Kernels kernels;

    TimestepEmbedding(Params p, int in, int out, Kernels kernels) {
        this.linear1 = LinearLayer.withBias(p, "linear_1", in, out);
        this.linear2 = LinearLayer.withBias(p, "linear_2", out, out);
        this.kernels = kernels;
    }

    /** The result is attached to the manager of {@code x}. */
    NDArray apply(NDArray x) {
        return linear2.apply(kernels.silu(linear1.apply(x, kernels)), kernels);
    }
}

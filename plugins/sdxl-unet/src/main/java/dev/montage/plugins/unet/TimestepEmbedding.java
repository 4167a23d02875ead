package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;
import dev.montage.nn.Linear;
import dev.montage.nn.Weights;

/** diffusers' {@code TimestepEmbedding}: {@code linear_2(silu(linear_1(x)))}. */
final class TimestepEmbedding {
    private final Linear linear1;
    private final Linear linear2;
    private final Kernels kernels;

    TimestepEmbedding(Weights p, int in, int out, Kernels kernels) {
        this.linear1 = Linear.withBias(p, "linear_1", in, out);
        this.linear2 = Linear.withBias(p, "linear_2", out, out);
        this.kernels = kernels;
    }

    /** The result is attached to the manager of {@code x}. */
    NDArray apply(NDArray x) {
        return linear2.forward(kernels.silu(linear1.forward(x)));
    }
}

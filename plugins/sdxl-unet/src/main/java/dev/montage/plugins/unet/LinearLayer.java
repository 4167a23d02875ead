package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/** An {@code nn.Linear}: {@code x W^T (+ b)}; {@code bias} is null for {@code bias=False} layers. */
record LinearLayer(NDArray weight, NDArray bias) {

    /** {@code <name>.weight} [out, in] and {@code <name>.bias} [out]. */
    static LinearLayer withBias(Params p, String name, long in, long out) {
        return new LinearLayer(p.linearWeight(name + ".weight", out, in), p.get(name + ".bias", out));
    }

    /** {@code <name>.weight} [out, in] of a layer without bias. */
    static LinearLayer withoutBias(Params p, String name, long in, long out) {
        return new LinearLayer(p.linearWeight(name + ".weight", out, in), null);
    }

    /**
     * Through the host's {@link Kernels#linear}, which picks the matrix-product backend for the CPU. The result is
     * attached to the manager of {@code x}.
     */
    NDArray apply(NDArray x, Kernels kernels) {
        return kernels.linear(x, weight, bias);
    }
}

package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;

/**
 * An {@code nn.Linear}: {@code x W^T (+ b)}; {@code bias} is null for {@code bias=False} layers. It runs through the
 * host's {@link Kernels#linear}, which picks the matrix-product backend.
 */
public record Linear(NDArray weight, NDArray bias, Kernels kernels) {

    /** {@code <name>.weight} [out, in] and {@code <name>.bias} [out]. */
    public static Linear withBias(Weights w, String name, long in, long out) {
        return new Linear(w.linearWeight(name + ".weight", out, in), w.get(name + ".bias", out), w.kernels());
    }

    /** {@code <name>.weight} [out, in] of a layer without bias. */
    public static Linear withoutBias(Weights w, String name, long in, long out) {
        return new Linear(w.linearWeight(name + ".weight", out, in), null, w.kernels());
    }

    /** The result is attached to the manager of {@code x}. */
    public NDArray forward(NDArray x) {
        return kernels.linear(x, weight, bias);
    }
}

package dev.montage.plugins.resampler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;

/** An {@code nn.Linear}: {@code x W^T (+ b)}; {@code bias} is null for {@code bias=False} layers. */
record LinearWeights(NDArray weight, NDArray bias) {

    /** Loads {@code <name>.weight} [out, in] and {@code <name>.bias} [out]. */
    static LinearWeights withBias(ModelWeights w, String name, NDManager manager, int in, int out) {
        return new LinearWeights(w.get(name + ".weight", manager, out, in), w.get(name + ".bias", manager, out));
    }

    /** Loads {@code <name>.weight} [out, in] of a layer without bias. */
    static LinearWeights withoutBias(ModelWeights w, String name, NDManager manager, int in, int out) {
        return new LinearWeights(w.get(name + ".weight", manager, out, in), null);
    }

    /** Through the host's {@link Kernels#linear}; the result is attached to the manager of {@code x}. */
    NDArray apply(NDArray x, Kernels kernels) {
        return kernels.linear(x, weight, bias);
    }
}

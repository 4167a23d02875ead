package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import dev.montage.api.host.Kernels;

/**
 * diffusers' {@code FeedForward} with GEGLU: {@code net.2(h * gelu(gate))} where
 * {@code [h, gate] = net.0.proj(x)} split in halves (exact GELU), with an inner width of 4 x dim.
 */
public final class FeedForward {
    private final Linear proj;
    private final Linear out;
    private final Kernels kernels;

    public FeedForward(Weights w, int dim) {
        int inner = 4 * dim;
        this.proj = Linear.withBias(w, "net.0.proj", dim, 2L * inner);
        this.out = Linear.withBias(w, "net.2", inner, dim);
        this.kernels = w.kernels();
    }

    /** The result (and the intermediates) are attached to the manager of {@code x}. */
    public NDArray forward(NDArray x) {
        NDArray projected = proj.forward(x);
        NDList halves = projected.split(2, projected.getShape().dimension() - 1);
        return out.forward(kernels.gelu(halves.get(1), false).muli(halves.get(0)));
    }
}

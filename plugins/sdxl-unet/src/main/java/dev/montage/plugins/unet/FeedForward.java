package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import dev.montage.api.host.Kernels;

/**
 * diffusers' {@code FeedForward} with GEGLU: {@code net.2(h * gelu(gate))} where
 * {@code [h, gate] = net.0.proj(x)} split in halves (exact GELU).
 */
final class FeedForward {
    private final LinearLayer proj;
    private final LinearLayer out;
    private final Kernels kernels;

    FeedForward(Params p, int dim, Kernels kernels) {
        int inner = 4 * dim;
        this.proj = LinearLayer.withBias(p, "net.0.proj", dim, 2L * inner);
        this.out = LinearLayer.withBias(p, "net.2", inner, dim);
        this.kernels = kernels;
    }

    /** The result (and the intermediates) are attached to the manager of {@code x}. */
    NDArray apply(NDArray x) {
        NDArray projected = proj.apply(x, kernels);
        NDList halves = projected.split(2, projected.getShape().dimension() - 1);
        return out.apply(kernels.gelu(halves.get(1), false).muli(halves.get(0)), kernels);
    }
}

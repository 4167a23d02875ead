package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** An affine {@code nn.LayerNorm} over the last axis. */
public record LayerNorm(NDArray weight, NDArray bias, float eps) {
    /** PyTorch's default epsilon. */
    public static final float DEFAULT_EPS = 1e-5f;

    /** {@code <name>.weight} and {@code <name>.bias}, both [dim]. */
    public static LayerNorm load(Weights w, String name, long dim, float eps) {
        return new LayerNorm(w.get(name + ".weight", dim), w.get(name + ".bias", dim), eps);
    }

    /** The result is attached to the manager of {@code x}. */
    public NDArray forward(NDArray x) {
        return ai.djl.nn.norm.LayerNorm.layerNorm(x, new Shape(weight.getShape().get(0)), weight, bias, eps)
                .singletonOrThrow();
    }
}

package dev.montage.plugins.resampler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;
import dev.montage.api.host.ModelWeights;

/** An {@code nn.LayerNorm} over the last axis (PyTorch's default epsilon 1e-5, affine). */
record LayerNormWeights(NDArray weight, NDArray bias) {
    private static final float EPS = 1e-5f;

    /** Loads {@code <name>.weight} and {@code <name>.bias}, both [dim]. */
    static LayerNormWeights load(ModelWeights w, String name, NDManager manager, int dim) {
        return new LayerNormWeights(w.get(name + ".weight", manager, dim), w.get(name + ".bias", manager, dim));
    }

    /** The result is attached to the manager of {@code x}. */
    NDArray apply(NDArray x) {
        return LayerNorm.layerNorm(x, new Shape(weight.getShape().get(0)), weight, bias, EPS).singletonOrThrow();
    }
}

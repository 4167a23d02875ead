package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;

/** An affine {@code nn.LayerNorm} over the last axis. */
record LayerNormLayer(NDArray weight, NDArray bias, float eps) {

    /** {@code <name>.weight} and {@code <name>.bias}, both [dim]. */
    static LayerNormLayer load(Params p, String name, long dim, float eps) {
        return new LayerNormLayer(p.get(name + ".weight", dim), p.get(name + ".bias", dim), eps);
    }

    /** The result is attached to the manager of {@code x}. */
    NDArray apply(NDArray x) {
        return LayerNorm.layerNorm(x, new Shape(weight.getShape().get(0)), weight, bias, eps).singletonOrThrow();
    }
}

package dev.montage.plugins.vae;

import ai.djl.ndarray.NDArray;

/**
 * Sees intermediate outputs as they are computed, named by the diffusers module path ({@code post_quant_conv},
 * {@code decoder.conv_in}, {@code decoder.mid_block}, ...). The array is only valid during the call.
 */
@FunctionalInterface
interface StageProbe {
    StageProbe NONE = (name, value) -> { };

    void stage(String name, NDArray value);
}

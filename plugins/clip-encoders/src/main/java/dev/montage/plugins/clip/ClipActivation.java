package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import dev.montage.api.host.Kernels;

/** The {@code hidden_act} values CLIP checkpoints use. */
enum ClipActivation {
    /** OpenAI CLIP (ViT-L text tower): {@code x * sigmoid(1.702 x)}. */
    QUICK_GELU,
    /** OpenCLIP bigG: exact (erf) GELU. */
    GELU;

    static ClipActivation fromConfig(String source, String name) {
        return switch (name) {
            case "quick_gelu" -> QUICK_GELU;
            case "gelu" -> GELU;
            default -> throw new IllegalArgumentException(
                    source + ": 'hidden_act' must be quick_gelu or gelu, got '" + name + "'");
        };
    }

    NDArray apply(NDArray x, Kernels kernels) {
        if (this == GELU) {
            return kernels.gelu(x, false);
        }
        try (NDArray scaled = x.mul(1.702f); NDArray gate = Activation.sigmoid(scaled)) {
            return x.mul(gate);
        }
    }
}

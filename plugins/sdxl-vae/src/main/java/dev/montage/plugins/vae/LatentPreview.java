package dev.montage.plugins.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.Scopes;

/**
 * SDXL latents to RGB without the decoder: a linear map per latent cell, with the factors ComfyUI publishes for
 * SDXL's latent space ({@code latent_formats.SDXL.latent_rgb_factors} and its bias). Good enough to watch a picture
 * form; not a decode.
 */
final class LatentPreview {
    /** The latent channels the factors are for. */
    static final int CHANNELS = 4;
    /** One row per latent channel: its contribution to R, G and B. */
    static final float[][] FACTORS = {
        {0.3651f, 0.4232f, 0.4341f},
        {-0.2533f, -0.0042f, 0.1068f},
        {0.1076f, 0.1111f, -0.0362f},
        {-0.3165f, -0.2492f, -0.2188f},
    };
    static final float[] BIAS = {0.1084f, -0.0175f, -0.0011f};

    private LatentPreview() {
    }

    /**
     * @param latents [B, 4, h, w] as the denoiser produced them
     * @return [B, 3, h, w] float32: the map clamped to -1..1, then scaled to 0..1; attached to {@code manager}
     */
    static NDArray rgb(NDManager manager, NDArray latents) {
        try (NDManager scope = manager.newSubManager()) {
            float[] factors = new float[CHANNELS * 3];
            for (int k = 0; k < CHANNELS; k++) {
                System.arraycopy(FACTORS[k], 0, factors, k * 3, 3);
            }
            NDArray x = Scopes.borrow(latents, scope).toType(DataType.FLOAT32, false).transpose(0, 2, 3, 1);
            NDArray mapped = x.matMul(scope.create(factors, new Shape(CHANNELS, 3))).add(scope.create(BIAS));
            NDArray rgb = mapped.clip(-1, 1).add(1).div(2).transpose(0, 3, 1, 2);
            rgb.attach(manager);
            return rgb;
        }
    }
}

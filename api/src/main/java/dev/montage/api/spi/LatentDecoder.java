package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Optional;

/** Latents to pixels (the SDXL VAE decoder). */
public interface LatentDecoder {

    /** Pixels per latent cell along each axis (8 for SDXL). */
    int scaleFactor();

    /**
     * Decodes latents as the denoiser produced them (the decoder divides by its scaling factor).
     *
     * @param latents [B, 4, h, w]
     * @return [B, 3, h*scaleFactor, w*scaleFactor] float32 in 0..1
     */
    NDArray decode(NDManager manager, NDArray latents);

    /**
     * A cheap approximation of the pictures the latents decode to, at the latent resolution and without running the
     * decoder, for progress previews (such as a per-channel linear map to RGB). Empty, the default, when the decoder
     * has none.
     *
     * @param latents [B, C, h, w] as the denoiser produced them, float32
     * @return [B, 3, h, w] float32 in 0..1, attached to {@code manager}
     */
    default Optional<NDArray> preview(NDManager manager, NDArray latents) {
        return Optional.empty();
    }
}

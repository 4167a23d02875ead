package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

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
}

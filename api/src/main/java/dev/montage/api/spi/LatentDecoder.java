package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Optional;
import java.util.function.Function;

/** Latents to pixels (the SDXL VAE decoder), and where it has an encoder pixels to latents. */
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
     * Encodes pictures to latents as the denoiser sees them, for a generation that starts from a picture: the
     * encoder's posterior sampled with {@code noise}, times the scaling factor (diffusers'
     * {@code retrieve_latents(vae.encode(x), generator) * scaling_factor}).
     *
     * @param images [B, 3, H, W] float32 in 0..1, H and W multiples of {@link #scaleFactor()}
     * @param noise  gives standard normal noise of a shape, the latents' [B, C, H/f, W/f]
     * @return [B, C, H/f, W/f] float32, attached to {@code manager}
     * @throws UnsupportedOperationException when this decoder has no encoder (the default)
     */
    default NDArray encode(NDManager manager, NDArray images, Function<Shape, NDArray> noise) {
        throw new UnsupportedOperationException("this latent decoder has no encoder, so it cannot start a generation "
                + "from a picture");
    }

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

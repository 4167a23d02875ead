package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Optional;

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
     * Encodes pictures for a generation that starts from one: the encoder's diagonal Gaussian posterior (diffusers'
     * {@code vae.encode(x).latent_dist}).
     *
     * @param images [B, 3, H, W] float32 in 0..1, H and W multiples of {@link #scaleFactor()}
     * @return the posterior, its arrays attached to {@code manager}
     * @throws UnsupportedOperationException when this decoder has no encoder (the default)
     */
    default Posterior encode(NDManager manager, NDArray images) {
        throw new UnsupportedOperationException("this latent decoder has no encoder, so it cannot start a generation "
                + "from a picture");
    }

    /**
     * An encoder's diagonal Gaussian posterior (diffusers' {@code DiagonalGaussianDistribution}), before scaling.
     * {@link #mode()} and {@link #sample(NDArray)} return latents as the denoiser sees them, multiplied by the
     * scaling factor.
     *
     * @param mean          [B, C, h, w] float32
     * @param std           [B, C, h, w] float32, {@code exp(0.5 * clamp(logvar, -30, 20))}
     * @param scalingFactor the VAE's {@code scaling_factor}
     */
    record Posterior(NDArray mean, NDArray std, double scalingFactor) implements AutoCloseable {

        /** The mean, scaled: the deterministic encoding. */
        public NDArray mode() {
            return mean.mul(scalingFactor);
        }

        /**
         * {@code (mean + std * noise) * scaling_factor} (diffusers' {@code latent_dist.sample(generator)} times the
         * scaling factor), attached to the mean's manager.
         *
         * @param noise standard normal noise of the mean's shape, or of more images when the posterior is of one
         *              picture (each image then samples it with its own noise)
         * @throws IllegalArgumentException when the noise has another shape
         */
        public NDArray sample(NDArray noise) {
            Shape m = mean.getShape();
            Shape n = noise.getShape();
            boolean perImage = m.get(0) == 1 && n.dimension() == m.dimension() && n.slice(1).equals(m.slice(1));
            if (!n.equals(m) && !perImage) {
                throw new IllegalArgumentException("noise has shape " + n + ", expected " + m);
            }
            return mean.add(std.mul(noise)).mul(scalingFactor);
        }

        @Override
        public void close() {
            mean.close();
            std.close();
        }
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

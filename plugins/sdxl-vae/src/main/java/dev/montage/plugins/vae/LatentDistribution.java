package dev.montage.plugins.vae;

import ai.djl.ndarray.NDArray;

/**
 * The encoder's diagonal Gaussian posterior (diffusers' {@code DiagonalGaussianDistribution}), in float32,
 * before scaling. {@link #mode()} and {@link #sample(NDArray)} return latents as the denoiser sees them, i.e.
 * multiplied by the VAE's {@code scaling_factor}.
 *
 * @param mean [B, latent channels, h, w]
 * @param std  [B, latent channels, h, w], {@code exp(0.5 * clamp(logvar, -30, 20))}
 */
record LatentDistribution(NDArray mean, NDArray std, double scalingFactor) implements AutoCloseable {

    /** The mean, scaled: the deterministic encoding. */
    NDArray mode() {
        return mean.mul(scalingFactor);
    }

    /**
     * {@code (mean + std * noise) * scaling_factor}.
     *
     * @param noise standard normal noise of the mean's shape (the caller owns the random stream)
     */
    NDArray sample(NDArray noise) {
        if (!noise.getShape().equals(mean.getShape())) {
            throw new IllegalArgumentException("noise has shape " + noise.getShape() + ", expected " + mean.getShape());
        }
        return mean.add(std.mul(noise)).mul(scalingFactor);
    }

    @Override
    public void close() {
        mean.close();
        std.close();
    }
}

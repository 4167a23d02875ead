package dev.montage.runtime.config;

/**
 * Profile section {@code pipeline}: how the assembled pipeline holds its components.
 *
 * @param releaseEncoders whether the text encoder, image encoder and resampler are loaded for each generation and
 *                        closed once it has encoded, one after the other, so that their weights are never resident
 *                        beside the UNet's activations or each other (lower peak memory, a load of the encoders per
 *                        generation); false keeps them loaded for the pipeline's life
 * @param releaseDenoiser whether the UNet (with its attention processors' weights, loaded once) is loaded when a
 *                        generation starts denoising and closed before it decodes, so that it is never resident beside
 *                        the encoders or the decoder's activations; for processes that run one generation, where it
 *                        costs nothing; false keeps it loaded for the pipeline's life
 */
public record PipelineSettings(boolean releaseEncoders, boolean releaseDenoiser) {
}

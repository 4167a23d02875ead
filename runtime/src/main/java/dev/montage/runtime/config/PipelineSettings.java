package dev.montage.runtime.config;

import dev.montage.api.spi.Suggestions;
import java.util.List;
import java.util.Optional;

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
 * @param warmUp          what {@code MontagePipeline.warmUp()} runs before a server takes requests: {@value #SMALL}
 *                        (one step of every component on a small picture: kernels loaded, code compiled),
 *                        {@value #DEFAULT_SIZE} (the same at the default request size, which also prepares the native
 *                        products of that size, so that a generation of that size runs its first step close to its
 *                        later ones) or
 *                        {@value #NONE}
 */
public record PipelineSettings(boolean releaseEncoders, boolean releaseDenoiser, String warmUp) {
    /** No warm-up: the first generation pays for every first use. */
    public static final String NONE = "none";
    /** A one-step generation on a small picture. */
    public static final String SMALL = "small";
    /** A one-step generation at the default request size. */
    public static final String DEFAULT_SIZE = "default_size";
    /** The values {@code pipeline.warm_up} takes. */
    public static final List<String> WARM_UPS = List.of(NONE, SMALL, DEFAULT_SIZE);

    /** What is wrong with {@code value} as a {@code pipeline.warm_up}, with a did-you-mean; empty for a known one. */
    public static Optional<String> warmUpProblem(String value) {
        return WARM_UPS.contains(value) ? Optional.empty() : Optional.of("unknown warm-up '" + value + "'"
                + Suggestions.didYouMean(value, WARM_UPS) + " (expected one of " + String.join(", ", WARM_UPS) + ")");
    }
}

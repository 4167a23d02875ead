package dev.montage.plugins.ipadapter;

import ai.djl.ndarray.NDArray;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.SubjectResampler;

/** An IP-Adapter image projection: image features of N pictures to N × {@link #tokens()} image tokens. */
interface ImageTokens extends AutoCloseable {

    /** Tokens per picture. */
    int tokens();

    /** Width of the tokens (the UNet's cross-attention width). */
    int width();

    /** Width of the image features it reads. */
    int embeddingDim();

    /** The image features it reads. */
    ImageEncoder.Features features();

    /** What the unconditional rows hold. */
    SubjectResampler.Unconditional unconditional();

    /** @return [N, tokens, width], attached to the manager of {@code features} */
    NDArray forward(NDArray features);

    @Override
    void close();
}

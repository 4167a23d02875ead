package dev.montage.plugins.ipadapter;

import ai.djl.ndarray.NDArray;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.SubjectResampler;

/** An IP-Adapter image projection: image features of N pictures to N × {@link Sizes#tokens()} image tokens. */
interface ImageTokens extends AutoCloseable {

    /**
     * @param tokens       tokens per picture
     * @param width        width of the tokens (the UNet's cross-attention width)
     * @param embeddingDim width of the image features it reads
     */
    record Sizes(int tokens, int width, int embeddingDim) {
    }

    /** Its sizes, as its weights give them. */
    Sizes sizes();

    /** The image features it reads. */
    ImageEncoder.Features features();

    /** What the unconditional rows hold. */
    SubjectResampler.Unconditional unconditional();

    /** @return [N, tokens, width], attached to the manager of {@code features} */
    NDArray forward(NDArray features);

    @Override
    void close();
}

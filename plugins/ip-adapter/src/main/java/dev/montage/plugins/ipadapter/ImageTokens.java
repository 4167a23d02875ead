package dev.montage.plugins.ipadapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.SubjectResampler;

/**
 * An IP-Adapter image projection: image features of N pictures to N × {@link Sizes#tokens()} image tokens. Owns its
 * weights, in {@link #weights()}.
 */
abstract class ImageTokens implements AutoCloseable {

    /**
     * @param tokens       tokens per picture
     * @param width        width of the tokens (the UNet's cross-attention width)
     * @param embeddingDim width of the image features it reads
     */
    record Sizes(int tokens, int width, int embeddingDim) {
    }

    private final Sizes sizes;
    private final ImageEncoder.Features features;
    private final SubjectResampler.Unconditional unconditional;
    private final NDManager weights;

    /**
     * @param features      the image features it reads
     * @param unconditional what the unconditional rows hold
     */
    ImageTokens(Sizes sizes, ImageEncoder.Features features, SubjectResampler.Unconditional unconditional,
            NDManager parent) {
        this.sizes = sizes;
        this.features = features;
        this.unconditional = unconditional;
        this.weights = parent.newSubManager();
    }

    /** Its sizes, as its weights give them. */
    final Sizes sizes() {
        return sizes;
    }

    /** The image features it reads. */
    final ImageEncoder.Features features() {
        return features;
    }

    /** What the unconditional rows hold. */
    final SubjectResampler.Unconditional unconditional() {
        return unconditional;
    }

    /** The manager its weights are loaded into. */
    final NDManager weights() {
        return weights;
    }

    /** @return [N, tokens, width], attached to the manager of {@code features} */
    final NDArray forward(NDArray imageFeatures) {
        NDManager caller = imageFeatures.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray out = project(Scopes.borrow(imageFeatures, scope), scope);
            out.attach(caller);
            return out;
        }
    }

    /**
     * The tokens of image features borrowed into a call's scope, whose intermediates stay in it.
     *
     * @param scope the call's scope
     */
    abstract NDArray project(NDArray imageFeatures, NDManager scope);

    @Override
    public void close() {
        weights.close();
    }
}

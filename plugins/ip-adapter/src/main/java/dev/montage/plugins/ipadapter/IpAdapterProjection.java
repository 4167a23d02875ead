package dev.montage.plugins.ipadapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.SubjectResampler;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/**
 * IP-Adapter's image side: each subject picture's image embedding projected into {@link ImageProjection#tokens()}
 * image tokens. There are no background tokens, and an unconditional row gets the projection of an all-zero
 * embedding, as {@code IPAdapter.get_image_embeds} makes it (not zeros). A subject has no phrase and no grounding; its
 * box restricts where it acts ({@link IpAttention}).
 */
final class IpAdapterProjection implements SubjectResampler, AutoCloseable {
    private final ImageProjection projection;
    private final Kernels kernels;
    private final ComputeDType dtype;

    IpAdapterProjection(ImageProjection projection, Kernels kernels, ComputeDType dtype) {
        this.projection = projection;
        this.kernels = kernels;
        this.dtype = dtype;
    }

    @Override
    public int tokensPerSubject() {
        return projection.tokens();
    }

    @Override
    public int outputDim() {
        return projection.width();
    }

    @Override
    public ImageEncoder.Features imageFeatures() {
        return ImageEncoder.Features.IMAGE_EMBEDS;
    }

    @Override
    public Set<SubjectField> subjectFields() {
        return EnumSet.of(SubjectField.BOX);
    }

    /**
     * @param imageEmbeds [N, E] projected image embeddings
     * @throws IllegalArgumentException when the embeddings are not [N, E] of this adapter's width
     */
    @Override
    public NDArray resample(NDManager manager, NDArray imageEmbeds, NDArray phraseEmbeds, NDArray boxes,
            boolean[] dropGrounding) {
        Shape shape = imageEmbeds.getShape();
        if (shape.dimension() != 2 || shape.get(1) != projection.embeddingDim()) {
            throw new IllegalArgumentException("IP-Adapter projects [N, " + projection.embeddingDim()
                    + "] image embeddings, got " + shape);
        }
        NDArray tokens = projection.forward(imageEmbeds);
        tokens.attach(manager);
        return tokens;
    }

    @Override
    public NDArray dummyTokens(NDManager manager) {
        return kernels.zeros(manager, new Shape(1, 0, projection.width()), dtype);
    }

    @Override
    public Optional<NDArray> unconditionalTokens(NDManager manager, int subjects) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray zeros = kernels.zeros(scope, new Shape(subjects, projection.embeddingDim()), dtype);
            NDArray tokens = projection.forward(zeros).reshape(1, (long) subjects * projection.tokens(),
                    projection.width());
            tokens.attach(manager);
            return Optional.of(tokens);
        }
    }

    @Override
    public void close() {
        projection.close();
    }
}

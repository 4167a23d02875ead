package dev.montage.plugins.ipadapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.SubjectResampler;
import java.util.EnumSet;
import java.util.Set;

/**
 * IP-Adapter's image side: each subject picture's image features projected into image tokens, by the plain
 * adapter's {@link ImageProjection} or the Plus adapter's {@link PerceiverProjection}. There are no background
 * tokens; an unconditional row gets what the projection asks for (not zeros). A subject has no phrase and no
 * grounding; its box restricts where it acts ({@link IpAttention}).
 */
final class IpAdapterProjection implements SubjectResampler, AutoCloseable {
    private final ImageTokens projection;
    private final Kernels kernels;
    private final ComputeDType dtype;

    IpAdapterProjection(ImageTokens projection, Kernels kernels, ComputeDType dtype) {
        this.projection = projection;
        this.kernels = kernels;
        this.dtype = dtype;
    }

    @Override
    public int tokensPerSubject() {
        return projection.sizes().tokens();
    }

    @Override
    public int outputDim() {
        return projection.sizes().width();
    }

    @Override
    public ImageEncoder.Features imageFeatures() {
        return projection.features();
    }

    @Override
    public Set<SubjectField> subjectFields() {
        return EnumSet.of(SubjectField.BOX);
    }

    /**
     * @param imageEmbeds [N, E] image embeddings (plain) or [N, T, E] hidden states (Plus)
     * @throws IllegalArgumentException when the features are not of this adapter's width
     */
    @Override
    public NDArray resample(NDManager manager, NDArray imageEmbeds, NDArray phraseEmbeds, NDArray boxes,
            boolean[] dropGrounding) {
        Shape shape = imageEmbeds.getShape();
        int rank = projection.features() == ImageEncoder.Features.IMAGE_EMBEDS ? 2 : 3;
        if (shape.dimension() != rank || shape.get(rank - 1) != projection.sizes().embeddingDim()) {
            throw new IllegalArgumentException("this IP-Adapter projects " + projection.features() + " of width "
                    + projection.sizes().embeddingDim() + ", got " + shape);
        }
        NDArray tokens = projection.forward(imageEmbeds);
        tokens.attach(manager);
        return tokens;
    }

    @Override
    public NDArray dummyTokens(NDManager manager) {
        return kernels.zeros(manager, new Shape(1, 0, projection.sizes().width()), dtype);
    }

    @Override
    public Unconditional unconditional() {
        return projection.unconditional();
    }

    @Override
    public void close() {
        projection.close();
    }
}

package dev.montage.plugins.ipadapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.nn.LayerNorm;
import dev.montage.nn.Linear;
import dev.montage.nn.Weights;
import java.util.Arrays;
import java.util.Set;

/**
 * IP-Adapter's {@code ImageProjModel}: {@code LayerNorm(reshape(proj(e), [N, tokens, width]))} of the image
 * embeddings {@code e} [N, E]. The sizes come from the weights: {@code proj.weight} [tokens × width, E],
 * {@code norm.weight} [width]. Owns its weights.
 */
final class ImageProjection implements ImageTokens {
    private static final Set<String> TENSORS = Set.of("proj.weight", "proj.bias", "norm.weight", "norm.bias");
    /** {@code ImageProjModel}'s {@code nn.LayerNorm} default. */
    private static final float EPS = 1e-5f;

    private final NDManager manager;
    private final Linear proj;
    private final LayerNorm norm;
    private final Sizes sizes;

    /**
     * @throws IllegalArgumentException naming the checkpoint when it is not a plain {@code ImageProjModel} or its
     *     sizes do not fit together
     */
    ImageProjection(ModelWeights weights, NDManager parent, Kernels kernels) {
        weights.requireExactly(TENSORS);
        long[] projShape = weights.shape("proj.weight");
        long[] normShape = weights.shape("norm.weight");
        if (projShape.length != 2 || normShape.length != 1 || projShape[0] % normShape[0] != 0) {
            throw new IllegalArgumentException(weights.source() + ": proj.weight " + Arrays.toString(projShape)
                    + " is not [tokens x width, embedding] for norm.weight " + Arrays.toString(normShape));
        }
        int width = Math.toIntExact(normShape[0]);
        int tokens = Math.toIntExact(projShape[0] / normShape[0]);
        this.sizes = new Sizes(tokens, width, Math.toIntExact(projShape[1]));
        this.manager = parent.newSubManager();
        try {
            Weights w = Weights.loading(weights, manager, kernels);
            proj = Linear.withBias(w, "proj", sizes.embeddingDim(), (long) tokens * width);
            norm = LayerNorm.load(w, "norm", width, EPS);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    @Override
    public Sizes sizes() {
        return sizes;
    }

    @Override
    public ImageEncoder.Features features() {
        return ImageEncoder.Features.IMAGE_EMBEDS;
    }

    /** The projection of an all-zero embedding, as {@code IPAdapter.get_image_embeds} makes it. */
    @Override
    public SubjectResampler.Unconditional unconditional() {
        return SubjectResampler.Unconditional.ZERO_FEATURES;
    }

    /**
     * @param embeds [N, E] image embeddings in the compute dtype
     * @return [N, tokens, width], attached to the manager of {@code embeds}
     */
    @Override
    public NDArray forward(NDArray embeds) {
        NDManager caller = embeds.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray x = proj.forward(Scopes.borrow(embeds, scope)).reshape(embeds.getShape().get(0),
                    sizes.tokens(), sizes.width());
            NDArray out = norm.forward(x);
            out.attach(caller);
            return out;
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}

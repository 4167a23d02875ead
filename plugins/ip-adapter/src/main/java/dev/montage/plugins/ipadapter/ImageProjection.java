package dev.montage.plugins.ipadapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
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
final class ImageProjection extends ImageTokens {
    private static final Set<String> TENSORS = Set.of("proj.weight", "proj.bias", "norm.weight", "norm.bias");
    /** {@code ImageProjModel}'s {@code nn.LayerNorm} default. */
    private static final float EPS = 1e-5f;

    private final Linear proj;
    private final LayerNorm norm;

    /**
     * @throws IllegalArgumentException naming the checkpoint when it is not a plain {@code ImageProjModel} or its
     *     sizes do not fit together
     */
    ImageProjection(ModelWeights weights, NDManager parent, Kernels kernels) {
        // the projection of an all-zero embedding, as IPAdapter.get_image_embeds makes it
        super(sizesOf(weights), ImageEncoder.Features.IMAGE_EMBEDS, SubjectResampler.Unconditional.ZERO_FEATURES,
                parent);
        try {
            Weights w = Weights.loading(weights, weights(), kernels);
            proj = Linear.withBias(w, "proj", sizes().embeddingDim(), (long) sizes().tokens() * sizes().width());
            norm = LayerNorm.load(w, "norm", sizes().width(), EPS);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private static Sizes sizesOf(ModelWeights weights) {
        weights.requireExactly(TENSORS);
        long[] projShape = weights.shape("proj.weight");
        long[] normShape = weights.shape("norm.weight");
        if (projShape.length != 2 || normShape.length != 1 || projShape[0] % normShape[0] != 0) {
            throw new IllegalArgumentException(weights.source() + ": proj.weight " + Arrays.toString(projShape)
                    + " is not [tokens x width, embedding] for norm.weight " + Arrays.toString(normShape));
        }
        return new Sizes(Math.toIntExact(projShape[0] / normShape[0]), Math.toIntExact(normShape[0]),
                Math.toIntExact(projShape[1]));
    }

    /** @param embeds [N, E] image embeddings in the compute dtype */
    @Override
    NDArray project(NDArray embeds, NDManager scope) {
        return norm.forward(proj.forward(embeds).reshape(embeds.getShape().get(0), sizes().tokens(),
                sizes().width()));
    }
}

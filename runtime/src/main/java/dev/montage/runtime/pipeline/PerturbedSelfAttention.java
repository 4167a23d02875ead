package dev.montage.runtime.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import dev.montage.api.GenerationContext;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.EncoderContext;
import java.util.Objects;
import java.util.Set;

/**
 * A self-attention layer's processor as perturbed-attention guidance needs it: in a generation that perturbs the layer,
 * the batch's last rows (its perturbed part, {@link BatchRows}) attend with the identity, each position to itself
 * alone, so the layer gives the output projection of their value projection (diffusers'
 * {@code PAGIdentitySelfAttnProcessor2_0}); the other rows, and every row of other generations, go to the processor
 * the layer was given. What a generation perturbs lives in its context, so one instance serves them all.
 */
final class PerturbedSelfAttention implements AttentionProcessor {

    /**
     * What a generation perturbs.
     *
     * @param layers the names of the perturbed self-attention layers
     * @param rows   how many of the batch's last rows are perturbed
     */
    record Perturbation(Set<String> layers, int rows) {
        Perturbation {
            layers = Set.copyOf(layers);
            if (rows <= 0) {
                throw new IllegalArgumentException("a perturbation needs rows, got " + rows);
            }
        }
    }

    static final GenerationContext.Key<Perturbation> KEY = GenerationContext.Key.of("perturbed-attention",
            Perturbation.class);

    private final AttentionProcessor processor;

    /** @param processor the layer's own processor */
    PerturbedSelfAttention(AttentionProcessor processor) {
        this.processor = Objects.requireNonNull(processor, "processor");
    }

    /** The layer's own processor, which serves the rows it does not perturb. */
    AttentionProcessor processor() {
        return processor;
    }

    @Override
    public NDArray forward(AttentionLayer layer, NDArray hidden, EncoderContext context, int gridHeight, int gridWidth,
            GenerationContext ctx) {
        Perturbation perturbation = ctx.get(KEY);
        if (perturbation == null || !perturbation.layers().contains(layer.name())) {
            return processor.forward(layer, hidden, context, gridHeight, gridWidth, ctx);
        }
        long kept = hidden.getShape().get(0) - perturbation.rows();
        if (kept < 0) {
            throw new IllegalStateException("layer " + layer.name() + " was given " + hidden.getShape().get(0)
                    + " rows, fewer than the " + perturbation.rows() + " perturbed ones");
        }
        NDArray identity = layer.output(layer.value(hidden.get(new NDIndex(kept + ":"))));
        if (kept == 0) {
            return identity;
        }
        return processor.forward(layer, hidden.get(new NDIndex(":" + kept)), context, gridHeight, gridWidth, ctx)
                .concat(identity, 0);
    }

    @Override
    public void prepare(AttentionLayer layer, EncoderContext context, GenerationContext ctx) {
        processor.prepare(layer, context, ctx);
    }
}

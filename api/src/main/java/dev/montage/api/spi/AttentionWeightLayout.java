package dev.montage.api.spi;

import java.util.List;
import java.util.Map;

/**
 * Optionally implemented by the {@link ComponentFactory} of an {@link AttentionProcessor} that brings weights per
 * attention layer of the denoising model (an adapter's projections): which tensors its checkpoints hold for a model
 * with these layers. The counterpart of {@link WeightLayout} for weights that depend on another component's
 * architecture.
 */
public interface AttentionWeightLayout {

    /**
     * @param layers the denoising model's attention layers, in its processors' order ({@link AttentionLayout})
     * @return for each model key this processor reads: tensor name (as in the checkpoint) → shape
     */
    Map<String, Map<String, long[]>> weightShapes(List<AttentionLayerSpec> layers);
}

package dev.montage.api.spi;

import dev.montage.api.host.ModelConfig;
import java.util.List;
import java.util.Map;

/**
 * Optionally implemented by the {@link ComponentFactory} of a {@link DenoisingModel}: its attention layers under a
 * configuration, without loading weights. Hosts use it to lay out the weights of adapters bound to those layers
 * ({@link AttentionWeightLayout}) when they write random models.
 */
public interface AttentionLayout {

    /**
     * @param configs the configurations by model key, as for {@link WeightLayout#weightShapes(Map)}
     * @return the layers in the order of the model's attention processors (the order adapters number them in)
     * @throws IllegalArgumentException naming a configuration that is missing or malformed
     */
    List<AttentionLayerSpec> attentionLayers(Map<String, ModelConfig> configs);
}

package dev.montage.api.spi;

import dev.montage.api.host.ModelConfig;
import java.util.Map;

/**
 * Optionally implemented by a {@link ComponentFactory} whose component reads weights: which tensors the
 * checkpoints of a configuration hold. Hosts use it to write random models in the real layout (the embedded
 * default model, full-size benchmarks) without knowing any architecture.
 */
public interface WeightLayout {

    /**
     * @param configs the configurations that will be written, by model key (e.g. {@code unet} → its
     *                {@code config.json}; {@code resampler_config} → the resampler's settings)
     * @return for each model key this component reads: tensor name (as in the checkpoint) → shape
     * @throws IllegalArgumentException naming a configuration that is missing or malformed
     */
    Map<String, Map<String, long[]>> weightShapes(Map<String, ModelConfig> configs);

    /**
     * The configuration of a model key.
     *
     * @throws IllegalArgumentException naming the key and the keys that were given
     */
    static ModelConfig require(Map<String, ModelConfig> configs, String key) {
        ModelConfig c = configs.get(key);
        if (c == null) {
            throw new IllegalArgumentException("no configuration for model '" + key + "'; given: " + configs.keySet());
        }
        return c;
    }
}

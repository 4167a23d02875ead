package dev.montage.api.spi;

import dev.montage.api.host.ModelConfig;
import java.io.IOException;
import java.nio.file.Path;
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
     * Called before a host writes a random-weight model folder: writes the files this component reads besides
     * configurations and weights (e.g. a tokenizer vocabulary) and adjusts the configuration values that depend on
     * them (e.g. the vocabulary size), so a host needs no class of the plugin to write a complete model. Does
     * nothing by default.
     *
     * @param folder  the model folder being written
     * @param configs the configuration values still to be written, by file path relative to {@code folder}
     *                (e.g. {@code text_encoder/config.json}); mutable
     * @throws IOException when a file cannot be written
     */
    default void prepareRandomModel(Path folder, Map<String, Map<String, Object>> configs) throws IOException {
    }

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

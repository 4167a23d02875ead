package dev.montage.plugins.clip;

import dev.montage.api.host.ModelConfig;

/**
 * The sizes of a CLIP tower from its {@code config.json} (text and vision towers share these keys).
 */
record ClipConfig(
        int hiddenSize,
        int intermediateSize,
        int layers,
        int heads,
        float layerNormEps,
        ClipActivation activation,
        int maxPositions,
        int vocabSize,
        int eosTokenId,
        int projectionDim) {

    static ClipConfig text(ModelConfig c) {
        ClipConfig config = new ClipConfig(
                c.getInt("hidden_size"),
                c.getInt("intermediate_size"),
                c.getInt("num_hidden_layers"),
                c.getInt("num_attention_heads"),
                (float) c.getDouble("layer_norm_eps", 1e-5),
                ClipActivation.fromConfig(c.source(), c.getString("hidden_act", "quick_gelu")),
                c.getInt("max_position_embeddings", 77),
                c.getInt("vocab_size"),
                c.getInt("eos_token_id", 2),
                c.getInt("projection_dim", c.getInt("hidden_size")));
        if (config.hiddenSize % config.heads != 0) {
            throw new IllegalArgumentException(c.source() + ": hidden_size " + config.hiddenSize
                    + " is not divisible by num_attention_heads " + config.heads);
        }
        if (config.layers < 2) {
            throw new IllegalArgumentException(c.source() + ": num_hidden_layers must be >= 2 (SDXL uses the "
                    + "penultimate layer), got " + config.layers);
        }
        return config;
    }
}

package dev.montage.plugins.clip;

import dev.montage.api.host.ModelConfig;

/**
 * The sizes of a CLIP tower from its {@code config.json}. Text and vision towers share the transformer keys;
 * {@link #text} and {@link #vision} read the ones specific to each.
 *
 * @param maxPositions text: {@code max_position_embeddings}; vision: the token count, patches + 1 class token
 * @param vocabSize    text only (0 for vision)
 * @param eosTokenId   text only (0 for vision)
 * @param imageSize    vision only (0 for text): side of the square input in pixels
 * @param patchSize    vision only (0 for text): side of a patch, also the patch convolution's stride
 * @param numChannels  vision only (0 for text): input channels
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
        int projectionDim,
        int imageSize,
        int patchSize,
        int numChannels) {

    static ClipConfig text(ModelConfig c) {
        return new ClipConfig(
                c.getInt("hidden_size"),
                c.getInt("intermediate_size"),
                c.getInt("num_hidden_layers"),
                c.getInt("num_attention_heads"),
                (float) c.getDouble("layer_norm_eps", 1e-5),
                ClipActivation.fromConfig(c.source(), c.getString("hidden_act", "quick_gelu")),
                c.getInt("max_position_embeddings", 77),
                c.getInt("vocab_size"),
                c.getInt("eos_token_id", 2),
                c.getInt("projection_dim", c.getInt("hidden_size")),
                0,
                0,
                0).validated(c.source());
    }

    /**
     * A vision tower ({@code CLIPVisionModel[WithProjection]}). Accepts a vision {@code config.json} and a full
     * {@code CLIPModel} one (then its {@code vision_config} is read); absent keys take transformers'
     * {@code CLIPVisionConfig} defaults, as {@code from_pretrained} does.
     */
    static ClipConfig vision(ModelConfig file) {
        ModelConfig c = "clip".equals(file.getString("model_type", ""))
                ? file.getObject("vision_config").orElseThrow(() -> new IllegalArgumentException(file.source()
                        + ": a CLIPModel configuration needs 'vision_config'"))
                : file;
        int imageSize = c.getInt("image_size", 224);
        int patchSize = c.getInt("patch_size", 32);
        if (patchSize <= 0 || imageSize < patchSize) {
            throw new IllegalArgumentException(c.source() + ": image_size " + imageSize
                    + " must hold at least one patch of patch_size " + patchSize);
        }
        int side = imageSize / patchSize;
        return new ClipConfig(
                c.getInt("hidden_size", 768),
                c.getInt("intermediate_size", 3072),
                c.getInt("num_hidden_layers", 12),
                c.getInt("num_attention_heads", 12),
                (float) c.getDouble("layer_norm_eps", 1e-5),
                ClipActivation.fromConfig(c.source(), c.getString("hidden_act", "quick_gelu")),
                side * side + 1,
                0,
                0,
                c.getInt("projection_dim", 512),
                imageSize,
                patchSize,
                c.getInt("num_channels", 3)).validated(c.source());
    }

    private ClipConfig validated(String source) {
        if (hiddenSize % heads != 0) {
            throw new IllegalArgumentException(source + ": hidden_size " + hiddenSize
                    + " is not divisible by num_attention_heads " + heads);
        }
        if (layers < 2) {
            throw new IllegalArgumentException(source + ": num_hidden_layers must be >= 2 (SDXL and MS-Diffusion "
                    + "use the penultimate layer), got " + layers);
        }
        return this;
    }
}

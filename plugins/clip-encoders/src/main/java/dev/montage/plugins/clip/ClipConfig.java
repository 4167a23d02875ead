package dev.montage.plugins.clip;

import static dev.montage.api.host.ModelConfig.MAX_LAYERS;
import static dev.montage.api.host.ModelConfig.MAX_WIDTH;

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

    /** SDXL and MS-Diffusion read the penultimate layer's output. */
    private static final int MIN_LAYERS = 2;
    /** Bounds far above CLIP's own (16 or 20 heads, 77 text positions, 49408 tokens, 224-pixel images). */
    private static final int MAX_HEADS = 1024;
    private static final int MAX_TOKENS = 4096;
    private static final int MAX_VOCABULARY = 1 << 20;
    private static final int MAX_IMAGE_SIZE = 4096;

    static ClipConfig text(ModelConfig c) {
        int hiddenSize = c.getInt("hidden_size", 1, MAX_WIDTH);
        int vocabSize = c.getInt("vocab_size", 1, MAX_VOCABULARY);
        return new ClipConfig(
                hiddenSize,
                c.getInt("intermediate_size", 1, MAX_WIDTH),
                c.getInt("num_hidden_layers", MIN_LAYERS, MAX_LAYERS),
                c.getInt("num_attention_heads", 1, MAX_HEADS),
                (float) c.getDouble("layer_norm_eps", 1e-5),
                ClipActivation.fromConfig(c.source(), c.getString("hidden_act", "quick_gelu")),
                c.getInt("max_position_embeddings", 77, 1, MAX_TOKENS),
                vocabSize,
                c.getInt("eos_token_id", 2, 0, vocabSize - 1),
                c.getInt("projection_dim", hiddenSize, 1, MAX_WIDTH),
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
        int imageSize = c.getInt("image_size", 224, 1, MAX_IMAGE_SIZE);
        int patchSize = c.getInt("patch_size", 32, 1, MAX_IMAGE_SIZE);
        int side = imageSize / patchSize;
        if (side < 1 || side * side + 1 > MAX_TOKENS) {
            throw new IllegalArgumentException(c.source() + ": image_size " + imageSize + " must hold 1 to "
                    + (MAX_TOKENS - 1) + " patches of patch_size " + patchSize + ", got " + side + " x " + side);
        }
        return new ClipConfig(
                c.getInt("hidden_size", 768, 1, MAX_WIDTH),
                c.getInt("intermediate_size", 3072, 1, MAX_WIDTH),
                c.getInt("num_hidden_layers", 12, MIN_LAYERS, MAX_LAYERS),
                c.getInt("num_attention_heads", 12, 1, MAX_HEADS),
                (float) c.getDouble("layer_norm_eps", 1e-5),
                ClipActivation.fromConfig(c.source(), c.getString("hidden_act", "quick_gelu")),
                side * side + 1,
                0,
                0,
                c.getInt("projection_dim", 512, 1, MAX_WIDTH),
                imageSize,
                patchSize,
                c.getInt("num_channels", 3, 1, MAX_WIDTH)).validated(c.source());
    }

    private ClipConfig validated(String source) {
        if (hiddenSize % heads != 0) {
            throw new IllegalArgumentException(source + ": hidden_size " + hiddenSize
                    + " is not divisible by num_attention_heads " + heads);
        }
        return this;
    }
}

package dev.montage.plugins.unet;

import dev.montage.api.host.ModelConfig;
import java.util.List;

/**
 * A diffusers {@code ControlNetModel} {@code config.json}: the UNet encoder it copies, plus the conditioning
 * embedding that brings the control image down to the latent grid.
 *
 * @param encoder               the encoder half of the UNet (time conditioning, {@code conv_in}, down and mid blocks)
 * @param conditioningChannels  channels of the control image (3)
 * @param embeddingChannels     channels of each conditioning-embedding stage; every stage after the first halves
 *                              the resolution
 * @param bgr                   whether the network was trained on BGR control images
 *                              ({@code controlnet_conditioning_channel_order: "bgr"}): the RGB input is flipped
 */
record ControlNetConfig(UNetConfig encoder, int conditioningChannels, List<Integer> embeddingChannels, boolean bgr) {

    /**
     * Reads and checks a ControlNet configuration.
     *
     * @throws IllegalArgumentException naming the file and the key of a missing, inconsistent or unsupported value
     *     (e.g. {@code global_pool_conditions}, whose pooled residuals do not fit the UNet's skip connections)
     */
    static ControlNetConfig from(ModelConfig c) {
        String src = c.source();
        UNetConfig encoder = UNetConfig.encoderFrom(c);
        if (c.getBoolean("global_pool_conditions", false)) {
            throw new IllegalArgumentException(src + ": 'global_pool_conditions' true (spatially pooled residuals) "
                    + "is not supported; only SDXL ControlNets with full-resolution residuals are");
        }
        String order = c.getString("controlnet_conditioning_channel_order", "rgb");
        if (!order.equals("rgb") && !order.equals("bgr")) {
            throw new IllegalArgumentException(src + ": 'controlnet_conditioning_channel_order' must be 'rgb' or "
                    + "'bgr', got '" + order + "'");
        }
        List<Integer> embedding = c.has("conditioning_embedding_out_channels")
                ? c.getIntList("conditioning_embedding_out_channels") : List.of(16, 32, 96, 256);
        if (embedding.isEmpty() || embedding.stream().anyMatch(n -> n <= 0)) {
            throw new IllegalArgumentException(src + ": 'conditioning_embedding_out_channels' must be a non-empty list "
                    + "of positive channel counts, got " + embedding);
        }
        int channels = c.getInt("conditioning_channels", 3);
        if (channels <= 0) {
            throw new IllegalArgumentException(src + ": 'conditioning_channels' must be positive, got " + channels);
        }
        return new ControlNetConfig(encoder, channels, embedding, order.equals("bgr"));
    }

    /** How many pixels of the control image make one latent pixel (2 per downsampling stage: 8 for SDXL's). */
    int imageToLatentFactor() {
        return 1 << (embeddingChannels.size() - 1);
    }
}

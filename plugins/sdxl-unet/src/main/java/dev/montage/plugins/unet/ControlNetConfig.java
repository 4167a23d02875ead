package dev.montage.plugins.unet;

import static dev.montage.api.host.ModelConfig.MAX_LEVELS;
import static dev.montage.api.host.ModelConfig.MAX_WIDTH;

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
        String key = "conditioning_embedding_out_channels";
        List<Integer> embedding = c.has(key)
                ? c.withEntries(key, c.getIntList(key, 1, MAX_WIDTH), 1, MAX_LEVELS) : List.of(16, 32, 96, 256);
        int channels = c.getInt("conditioning_channels", 3, 1, MAX_WIDTH);
        return new ControlNetConfig(encoder, channels, embedding, order.equals("bgr"));
    }

    /** How many pixels of the control image make one latent pixel (2 per downsampling stage: 8 for SDXL's). */
    int imageToLatentFactor() {
        return 1 << (embeddingChannels.size() - 1);
    }
}

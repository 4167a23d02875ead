package dev.montage.plugins.vae;

import static dev.montage.api.host.ModelConfig.MAX_LAYERS;
import static dev.montage.api.host.ModelConfig.MAX_LEVELS;
import static dev.montage.api.host.ModelConfig.MAX_WIDTH;

import dev.montage.api.host.ModelConfig;
import java.util.List;

/**
 * The sizes of a diffusers {@code AutoencoderKL} from its {@code config.json}.
 *
 * @param blockOutChannels     channels per resolution level, encoder order (the decoder walks them reversed)
 * @param layersPerBlock       resnets per encoder level; decoder levels have one more
 * @param scalingFactor        latents = encoder output x this factor; the decoder divides by it
 * @param forceUpcast          the model asks to run in float32 when the pipeline computes in float16
 * @param midBlockAttention    whether the mid blocks hold their self-attention layer
 * @param useQuantConv         whether {@code quant_conv} exists (always in SDXL)
 * @param usePostQuantConv     whether {@code post_quant_conv} exists (always in SDXL)
 * @param sampleSize           the image size the VAE was trained at ({@code sample_size}; 1024 for SDXL), the default
 *                             tile of a tiled decode
 */
record VaeConfig(
        int inChannels,
        int outChannels,
        int latentChannels,
        List<Integer> blockOutChannels,
        int layersPerBlock,
        int normGroups,
        double scalingFactor,
        boolean forceUpcast,
        boolean midBlockAttention,
        boolean useQuantConv,
        boolean usePostQuantConv,
        int sampleSize) {

    /** diffusers builds every VAE norm (resnets, mid-block attention, conv_norm_out) with this epsilon. */
    static final double NORM_EPS = 1e-6;
    /** The largest {@code sample_size} taken. */
    static final int MAX_IMAGE_SIZE = 1 << 16;

    static VaeConfig from(ModelConfig c) {
        String className = c.getString("_class_name", "AutoencoderKL");
        if (!className.equals("AutoencoderKL")) {
            throw new IllegalArgumentException(c.source() + ": '_class_name' is " + className + ", expected AutoencoderKL");
        }
        String act = c.getString("act_fn", "silu");
        if (!act.equals("silu") && !act.equals("swish")) {
            throw new IllegalArgumentException(c.source() + ": 'act_fn' " + act + " is not supported, expected silu");
        }
        List<Integer> channels = c.withEntries("block_out_channels", c.getIntList("block_out_channels", 1, MAX_WIDTH),
                1, MAX_LEVELS);
        requireBlocks(c, "down_block_types", "DownEncoderBlock2D", channels.size());
        requireBlocks(c, "up_block_types", "UpDecoderBlock2D", channels.size());
        VaeConfig config = new VaeConfig(
                c.getInt("in_channels", 3, 1, MAX_WIDTH),
                c.getInt("out_channels", 3, 1, MAX_WIDTH),
                c.getInt("latent_channels", 4, 1, MAX_WIDTH),
                channels,
                c.getInt("layers_per_block", 1, 1, MAX_LAYERS),
                c.getInt("norm_num_groups", 32, 1, MAX_WIDTH),
                c.getDouble("scaling_factor", 0.18215),
                c.getBoolean("force_upcast", true),
                c.getBoolean("mid_block_add_attention", true),
                c.getBoolean("use_quant_conv", true),
                c.getBoolean("use_post_quant_conv", true),
                // diffusers' AutoencoderKL default; a [height, width] pair tiles by its first entry, as diffusers does
                c.has("sample_size") ? c.getIntOrList("sample_size", 2, 8, MAX_IMAGE_SIZE).get(0) : 32);
        for (int ch : channels) {
            if (ch % config.normGroups != 0) {
                throw new IllegalArgumentException(c.source() + ": block_out_channels entry " + ch
                        + " is not divisible by norm_num_groups " + config.normGroups);
            }
        }
        if (config.scalingFactor <= 0) {
            throw new IllegalArgumentException(c.source() + ": 'scaling_factor' must be > 0, got " + config.scalingFactor);
        }
        return config;
    }

    private static void requireBlocks(ModelConfig c, String key, String expected, int levels) {
        if (!c.has(key)) {
            return;
        }
        List<String> types = c.getStringList(key);
        if (types.size() != levels || types.stream().anyMatch(t -> !t.equals(expected))) {
            throw new IllegalArgumentException(c.source() + ": '" + key + "' must be " + levels + " x " + expected
                    + " (one per block_out_channels entry), got " + types);
        }
    }

    /** Pixels per latent cell along each axis: one 2x resampling between consecutive levels. */
    int scaleFactor() {
        return 1 << (blockOutChannels.size() - 1);
    }

    /** The channels of the deepest level, where the mid blocks work. */
    int deepestChannels() {
        return blockOutChannels.get(blockOutChannels.size() - 1);
    }
}

package dev.montage.plugins.unet;

import static dev.montage.api.host.ModelConfig.MAX_LAYERS;
import static dev.montage.api.host.ModelConfig.MAX_LEVELS;
import static dev.montage.api.host.ModelConfig.MAX_WIDTH;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.Dimensions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;

/**
 * The parts of a diffusers {@code UNet2DConditionModel} {@code config.json} that SDXL-style UNets use, resolved
 * the way diffusers 0.23 resolves them (per-block lists, reversed lists for the up path), so that one model class
 * runs the tiny test UNet and the real SDXL base alike.
 *
 * <p>Note {@code attention_head_dim}: diffusers passes it on as the <em>number of heads</em> (its long-standing
 * naming bug), so a block of {@code c} channels has {@code attention_head_dim} heads of {@code c / heads} each.
 *
 * @param source               the file, for messages
 * @param inChannels           latent channels in
 * @param outChannels          latent channels out
 * @param blockOutChannels     channels of each resolution level, finest first
 * @param layersPerBlock       resnets per down block (the up block at the same level has one more)
 * @param downBlockTypes       {@code DownBlock2D} or {@code CrossAttnDownBlock2D} per level
 * @param upBlockTypes         {@code UpBlock2D} or {@code CrossAttnUpBlock2D}, coarsest first; empty for an encoder
 *                             without up path (a ControlNet)
 * @param heads                attention heads per level, finest first
 * @param crossAttentionDims   encoder context width per level, finest first
 * @param downTransformerLayers transformer layers of each attention of each down block
 * @param upTransformerLayers  transformer layers of each attention of each up block (coarsest first)
 * @param midTransformerLayers transformer layers of the mid block's attention
 * @param normGroups           group-norm groups
 * @param normEps              epsilon of the resnets' group norms and of the output norm
 * @param flipSinToCos         sinusoid order {@code [cos, sin]} instead of {@code [sin, cos]}
 * @param freqShift            {@code downscale_freq_shift} of the sinusoids
 * @param timeEmbedDim         width of the time embedding ({@code temb})
 * @param textTimeEmbedding    whether the SDXL {@code text_time} addition embedding is present
 * @param additionTimeEmbedDim width of each time id's sinusoid
 * @param additionInputDim     input width of {@code add_embedding} (pooled text + 6 sinusoids)
 * @param convInKernel         kernel size of {@code conv_in}
 * @param convOutKernel        kernel size of {@code conv_out}
 * @param downsamplePadding    padding of the stride-2 downsampling convolutions
 * @param midBlockScaleFactor  output scale factor of the mid block's resnets
 * @param linearProjection     transformer {@code proj_in}/{@code proj_out} are linear (else 1x1 convolutions)
 * @param timeCondProjDim      width of the guidance embedding a guidance-distilled UNet adds to its timestep
 *                             sinusoids through {@code time_embedding.cond_proj}, 0 for none
 */
record UNetConfig(
        String source,
        int inChannels,
        int outChannels,
        List<Integer> blockOutChannels,
        List<Integer> layersPerBlock,
        List<String> downBlockTypes,
        List<String> upBlockTypes,
        List<Integer> heads,
        List<Integer> crossAttentionDims,
        List<List<Integer>> downTransformerLayers,
        List<List<Integer>> upTransformerLayers,
        int midTransformerLayers,
        int normGroups,
        float normEps,
        boolean flipSinToCos,
        float freqShift,
        int timeEmbedDim,
        boolean textTimeEmbedding,
        int additionTimeEmbedDim,
        int additionInputDim,
        int convInKernel,
        int convOutKernel,
        int downsamplePadding,
        float midBlockScaleFactor,
        boolean linearProjection,
        int timeCondProjDim) {

    static final String DOWN_BLOCK = "DownBlock2D";
    static final String CROSS_ATTN_DOWN_BLOCK = "CrossAttnDownBlock2D";
    static final String UP_BLOCK = "UpBlock2D";
    static final String CROSS_ATTN_UP_BLOCK = "CrossAttnUpBlock2D";
    private static final String MID_BLOCK = "UNetMidBlock2DCrossAttn";

    /** The largest kernel size or padding a configuration may ask for (SDXL's are 3 and 1). */
    private static final int MAX_KERNEL = 31;

    /** The narrowest guidance embedding: its sinusoids' frequencies divide by half its width minus one. */
    private static final int MIN_GUIDANCE_EMBEDDING = 4;

    /** SDXL's micro-conditioning: original size, crop top-left, target size. */
    static final int TIME_IDS = 6;

    /** Number of resolution levels. */
    int levels() {
        return blockOutChannels.size();
    }

    /** Whether a down or up block type carries transformers. */
    static boolean hasAttention(String blockType) {
        return blockType.equals(CROSS_ATTN_DOWN_BLOCK) || blockType.equals(CROSS_ATTN_UP_BLOCK);
    }

    /** Up block {@code i} (coarsest first) works at level {@code levels - 1 - i}. */
    int upLevel(int upBlock) {
        return levels() - 1 - upBlock;
    }

    /**
     * What this network expects of the other components: the text width at every cross-attention width of the
     * configuration, the pooled text width that, with the {@value #TIME_IDS} size and crop ids, makes the added
     * embedding's input, and the latent channels of its input.
     */
    Dimensions.Builder expectations(Dimensions.Builder dimensions) {
        for (int width : new TreeSet<>(crossAttentionDims)) {
            dimensions.expects(Dimensions.TEXT_HIDDEN, width, source + " 'cross_attention_dim'");
        }
        if (textTimeEmbedding) {
            dimensions.expects(Dimensions.TEXT_POOLED, additionInputDim - TIME_IDS * additionTimeEmbedDim, source
                    + " 'projection_class_embeddings_input_dim' - " + TIME_IDS + " x 'addition_time_embed_dim'");
        }
        if (inpainting()) {
            return dimensions.provides(Dimensions.MASKED_IMAGE_CHANNELS, outChannels, source
                    + " 'in_channels' = 2 x 'out_channels' + 1");
        }
        return dimensions.expects(Dimensions.LATENT_CHANNELS, inChannels, source + " 'in_channels'");
    }

    /**
     * Whether this is an inpainting UNet: its input the latents, the mask and the masked picture's latents
     * ({@code in_channels} = 2 × {@code out_channels} + 1, as diffusers' SDXL inpainting UNet).
     */
    boolean inpainting() {
        return inChannels == 2 * outChannels + 1;
    }

    /**
     * Reads and checks a UNet configuration.
     *
     * @throws IllegalArgumentException naming the file and the key when a value is missing, inconsistent, or asks
     *     for a UNet variant that SDXL does not use (class embeddings, encoder projections, scale-shift time
     *     conditioning, dual or cross-only attention, ...)
     */
    static UNetConfig from(ModelConfig c) {
        return parse(c, true);
    }

    /**
     * Reads the configuration of a UNet's encoder half (time conditioning, {@code conv_in}, down blocks, mid block),
     * as a ControlNet's {@code config.json} describes it: no up path, no output convolution.
     *
     * @throws IllegalArgumentException as {@link #from(ModelConfig)}
     */
    static UNetConfig encoderFrom(ModelConfig c) {
        return parse(c, false);
    }

    private static UNetConfig parse(ModelConfig c, boolean withUpPath) {
        String src = c.source();
        requireAbsentOrEqual(c, "time_embedding_type", "positional");
        requireAbsentOrEqual(c, "resnet_time_scale_shift", "default");
        requireAbsentOrEqual(c, "act_fn", "silu");
        requireAbsentOrEqual(c, "attention_type", "default");
        requireAbsentOrEqual(c, "mid_block_type", MID_BLOCK);
        for (String key : List.of("class_embed_type", "num_class_embeds", "encoder_hid_dim", "encoder_hid_dim_type",
                "time_cond_proj_dim", "time_embedding_act_fn", "timestep_post_act", "cross_attention_norm",
                "num_attention_heads")) {
            // a guidance-distilled UNet (LCM-SDXL) embeds the guidance scale; its ControlNets do not
            if (c.has(key) && !(withUpPath && key.equals("time_cond_proj_dim"))) {
                throw new IllegalArgumentException(src + ": '" + key + "' must be null for an SDXL UNet, got "
                        + c.asMap().get(key));
            }
        }
        for (String key : List.of("center_input_sample", "dual_cross_attention", "resnet_skip_time_act",
                "class_embeddings_concat", "mid_block_only_cross_attention")) {
            if (c.getBoolean(key, false)) {
                throw new IllegalArgumentException(src + ": '" + key + "' must be false for an SDXL UNet");
            }
        }
        Object onlyCross = c.asMap().get("only_cross_attention");
        if (Boolean.TRUE.equals(onlyCross) || onlyCross instanceof List<?> l && l.contains(Boolean.TRUE)) {
            throw new IllegalArgumentException(src + ": 'only_cross_attention' must be false for an SDXL UNet");
        }

        List<Integer> channels = c.withEntries("block_out_channels", c.getIntList("block_out_channels", 1, MAX_WIDTH), 1,
                MAX_LEVELS);
        int levels = channels.size();
        List<String> down = c.getStringList("down_block_types");
        List<String> up = withUpPath ? c.getStringList("up_block_types") : List.of();
        if (down.size() != levels || withUpPath && up.size() != levels) {
            throw new IllegalArgumentException(src + ": 'down_block_types' and 'up_block_types' need "
                    + levels + " entries like 'block_out_channels', got " + down + " and " + up);
        }
        for (String t : down) {
            requireOneOf(src, "down_block_types", t, DOWN_BLOCK, CROSS_ATTN_DOWN_BLOCK);
        }
        for (String t : up) {
            requireOneOf(src, "up_block_types", t, UP_BLOCK, CROSS_ATTN_UP_BLOCK);
        }
        List<Integer> layers = c.getIntOrList("layers_per_block", levels, 1, MAX_LAYERS);
        List<Integer> heads = c.getIntOrList("attention_head_dim", levels, 1, MAX_WIDTH);
        List<Integer> crossDims = c.getIntOrList("cross_attention_dim", levels, 1, MAX_WIDTH);
        int groups = c.getInt("norm_num_groups", 32, 1, MAX_WIDTH);
        for (int i = 0; i < levels; i++) {
            if (channels.get(i) % heads.get(i) != 0) {
                throw new IllegalArgumentException(src + ": block_out_channels[" + i + "] = " + channels.get(i)
                        + " is not divisible by attention_head_dim[" + i + "] = " + heads.get(i)
                        + " (the number of heads in diffusers)");
            }
            if (channels.get(i) % groups != 0) {
                throw new IllegalArgumentException(src + ": block_out_channels[" + i + "] = " + channels.get(i)
                        + " is not divisible by norm_num_groups = " + groups);
            }
        }
        List<List<Integer>> downTransformers = perBlock(c, "transformer_layers_per_block", levels, layers, 0);
        List<List<Integer>> upTransformers = withUpPath ? upTransformerLayers(c, levels, layers, downTransformers)
                : List.of();
        int midTransformers = downTransformers.get(levels - 1).get(0);

        String addition = c.getString("addition_embed_type", null);
        boolean textTime = addition != null;
        if (textTime && !addition.equals("text_time")) {
            throw new IllegalArgumentException(src + ": 'addition_embed_type' must be 'text_time' or null, got '"
                    + addition + "'");
        }
        int timeEmbedDim = c.getInt("time_embedding_dim", channels.get(0) * 4, 1, MAX_WIDTH);
        int padding = c.getInt("downsample_padding", 1, 1, MAX_KERNEL);
        int convIn = c.getInt("conv_in_kernel", 3, 1, MAX_KERNEL);
        int convOut = c.getInt("conv_out_kernel", 3, 1, MAX_KERNEL);
        if (convIn % 2 == 0 || convOut % 2 == 0) {
            throw new IllegalArgumentException(src + ": 'conv_in_kernel' and 'conv_out_kernel' must be odd, got "
                    + convIn + " and " + convOut);
        }
        if (channels.get(0) % 2 != 0) {
            throw new IllegalArgumentException(src + ": block_out_channels[0] (the timestep sinusoid width) must be "
                    + "even, got " + channels.get(0));
        }
        return new UNetConfig(src,
                c.getInt("in_channels", 4, 1, MAX_WIDTH),
                c.getInt("out_channels", 4, 1, MAX_WIDTH),
                channels, layers, down, up, heads, crossDims,
                downTransformers, upTransformers, midTransformers,
                groups,
                (float) c.getDouble("norm_eps", 1e-5),
                c.getBoolean("flip_sin_to_cos", true),
                (float) c.getDouble("freq_shift", 0),
                timeEmbedDim,
                textTime,
                textTime ? c.getInt("addition_time_embed_dim", 1, MAX_WIDTH) : 0,
                textTime ? c.getInt("projection_class_embeddings_input_dim", 1, MAX_WIDTH) : 0,
                convIn, convOut, padding,
                (float) c.getDouble("mid_block_scale_factor", 1),
                c.getBoolean("use_linear_projection", false),
                c.getInt("time_cond_proj_dim", 0, MIN_GUIDANCE_EMBEDDING, MAX_WIDTH));
    }

    /** Transformer layers of each up block's attentions (coarsest first), explicit or mirrored from the down path. */
    private static List<List<Integer>> upTransformerLayers(ModelConfig c, int levels, List<Integer> layers,
            List<List<Integer>> downTransformers) {
        if (c.has("reverse_transformer_layers_per_block")) {
            return perBlock(c, "reverse_transformer_layers_per_block", levels, reversed(layers), 1);
        }
        Object raw = c.asMap().get("transformer_layers_per_block");
        if (raw instanceof List<?> list && list.stream().anyMatch(e -> e instanceof List)) {
            throw new IllegalArgumentException(c.source() + ": per-layer 'transformer_layers_per_block' needs "
                    + "'reverse_transformer_layers_per_block' (as diffusers requires)");
        }
        List<Integer> perLevel = downTransformers.stream().map(l -> l.get(0)).toList();
        List<List<Integer>> up = new ArrayList<>();
        for (int i = 0; i < levels; i++) {
            up.add(Collections.nCopies(layers.get(levels - 1 - i) + 1, perLevel.get(levels - 1 - i)));
        }
        return List.copyOf(up);
    }

    /**
     * An int-or-list per block, where each block entry may itself be a per-layer list (diffusers allows both).
     *
     * @param extraLayers 1 for up blocks, which have one resnet more than {@code layers}
     */
    private static List<List<Integer>> perBlock(ModelConfig c, String key, int levels, List<Integer> layers,
            int extraLayers) {
        Object raw = c.asMap().get(key);
        if (raw == null) {
            raw = 1;
        }
        List<?> entries = raw instanceof List<?> list ? list : Collections.nCopies(levels, raw);
        if (entries.size() != levels) {
            throw new IllegalArgumentException(c.source() + ": '" + key + "' must have " + levels + " entries, got "
                    + raw);
        }
        List<List<Integer>> out = new ArrayList<>();
        for (int i = 0; i < levels; i++) {
            int n = layers.get(i) + extraLayers;
            Object e = entries.get(i);
            List<Integer> perLayer = new ArrayList<>();
            if (e instanceof Number) {
                perLayer.addAll(Collections.nCopies(n, toCount(c, key, e)));
            } else if (e instanceof List<?> l && l.size() == n) {
                for (Object o : l) {
                    perLayer.add(toCount(c, key, o));
                }
            } else {
                throw new IllegalArgumentException(c.source() + ": '" + key + "'[" + i + "] must be a count or a list of "
                        + n + " counts, got " + e);
            }
            out.add(List.copyOf(perLayer));
        }
        return List.copyOf(out);
    }

    private static int toCount(ModelConfig c, String key, Object o) {
        if (o instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
                && Math.abs(n.doubleValue()) <= Integer.MAX_VALUE) {
            return c.inRange(key, n.intValue(), 1, MAX_LAYERS);
        }
        throw new IllegalArgumentException(c.source() + ": '" + key + "' entries must be integers, got " + o);
    }

    private static List<Integer> reversed(List<Integer> list) {
        List<Integer> r = new ArrayList<>(list);
        Collections.reverse(r);
        return r;
    }

    private static void requireAbsentOrEqual(ModelConfig c, String key, String expected) {
        if (c.has(key) && !Objects.equals(c.asMap().get(key), expected)) {
            throw new IllegalArgumentException(c.source() + ": '" + key + "' must be '" + expected
                    + "' for an SDXL UNet, got '" + c.asMap().get(key) + "'");
        }
    }

    private static void requireOneOf(String src, String key, String value, String... allowed) {
        if (!List.of(allowed).contains(value)) {
            throw new IllegalArgumentException(src + ": '" + key + "' entry '" + value + "' is not supported, expected "
                    + String.join(" or ", allowed));
        }
    }
}

package dev.montage.plugins.unet;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.SingleFileLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The SDXL UNet in the original (SGM) layout of single-file checkpoints, under {@code model.diffusion_model.}: blocks
 * numbered in one sequence ({@code input_blocks.<i>.<j>}, {@code middle_block.<j>}, {@code output_blocks.<i>.<j>}),
 * resnets with the original part names, transformers with diffusers' names. kohya-ss LoRAs name the UNet's modules
 * by the same paths.
 */
final class OriginalUNetLayout {
    static final String PREFIX = "model.diffusion_model.";
    /** The input width of the SDXL refiner's added embedding (pooled 1280 + 5 time ids x 256). */
    private static final long REFINER_ADDED_INPUT = 2560;
    private static final Pattern BLOCK = Pattern.compile("(down|up)_blocks\\.(\\d+)\\.(resnets|attentions|downsamplers"
            + "|upsamplers)\\.(\\d+)\\.(.+)");
    private static final Pattern MID = Pattern.compile("mid_block\\.(resnets|attentions)\\.(\\d+)\\.(.+)");
    private static final Map<String, String> RESNET = Map.of("norm1", "in_layers.0", "conv1", "in_layers.2",
            "time_emb_proj", "emb_layers.1", "norm2", "out_layers.0", "conv2", "out_layers.3", "conv_shortcut",
            "skip_connection");
    private static final Map<String, String> TOP = Map.of("conv_in", "input_blocks.0.0", "time_embedding.linear_1",
            "time_embed.0", "time_embedding.linear_2", "time_embed.2", "add_embedding.linear_1", "label_emb.0.0",
            "add_embedding.linear_2", "label_emb.0.2", "conv_norm_out", "out.0", "conv_out", "out.2");

    /** Per down block its first input block; per up block its first output block; from the component's names. */
    private final Map<Integer, Integer> downStart = new TreeMap<>();
    private final Map<Integer, Integer> downResnets = new TreeMap<>();
    private final Map<Integer, Integer> upStart = new TreeMap<>();
    private final Map<Integer, Integer> upResnets = new TreeMap<>();
    private final Map<Integer, Boolean> upAttention = new TreeMap<>();

    /**
     * The numbering of one UNet, from its diffusers names (how many resnets each level has, which levels have a
     * downsampler or attention).
     */
    OriginalUNetLayout(Set<String> names) {
        Map<Integer, Boolean> downsampler = new TreeMap<>();
        for (String name : names) {
            Matcher m = BLOCK.matcher(name);
            if (m.matches()) {
                int block = Integer.parseInt(m.group(2));
                int index = Integer.parseInt(m.group(4));
                boolean down = m.group(1).equals("down");
                switch (m.group(3)) {
                    case "resnets" -> (down ? downResnets : upResnets).merge(block, index + 1, Math::max);
                    case "downsamplers" -> downsampler.put(block, true);
                    case "attentions" -> upAttention.put(block, upAttention.getOrDefault(block, false) || !down);
                    default -> { }
                }
            }
        }
        int next = 1;
        for (Map.Entry<Integer, Integer> e : downResnets.entrySet()) {
            downStart.put(e.getKey(), next);
            next += e.getValue() + (downsampler.getOrDefault(e.getKey(), false) ? 1 : 0);
        }
        next = 0;
        for (Map.Entry<Integer, Integer> e : upResnets.entrySet()) {
            upStart.put(e.getKey(), next);
            next += e.getValue();
        }
    }

    /**
     * @param expected the UNet's tensors by diffusers name, as its configuration makes them
     * @param addedInput the input width of the added (time and pooled text) embedding the configuration expects
     */
    static Optional<Map<String, MappedTensor>> view(Map<String, long[]> file, Map<String, long[]> expected,
            long addedInput) {
        if (file.keySet().stream().noneMatch(n -> n.startsWith(PREFIX))) {
            return Optional.empty();
        }
        return Optional.of(map("UNet", PREFIX, file, expected, addedInput, name -> null));
    }

    /**
     * The configuration with the input channels of the file's {@code conv_in} where they differ from its own:
     * inpainting checkpoints are SDXL base's UNet with nine (the latents, the mask and the masked picture's latents)
     * and are shared in this layout without a configuration, and A1111 tells them by this shape too.
     */
    static ModelConfig adapted(Map<String, long[]> file, ModelConfig config) {
        String name = PREFIX + TOP.get("conv_in") + ".weight";
        long[] convIn = file.get(name);
        if (convIn == null || convIn.length != 4 || convIn[1] > ModelConfig.MAX_WIDTH
                || convIn[1] == UNetConfig.from(config).inChannels()) {
            return config;
        }
        Map<String, Object> values = new LinkedHashMap<>(config.asMap());
        values.put("in_channels", (int) convIn[1]);
        return new ModelConfig(config.source() + " with in_channels " + convIn[1] + " as " + name + " has them",
                values);
    }

    /**
     * Maps a network made of the UNet's parts (a UNet, a ControlNet's copy of its encoder) stored in the original
     * layout, after checking that it is SDXL base's.
     *
     * @param network    what the network is, for messages, e.g. {@code UNet}
     * @param prefix     what the file's names of the network start with, e.g. {@code model.diffusion_model.}
     * @param expected   the network's tensors by diffusers name
     * @param addedInput the input width of the added embedding the configuration expects
     * @param own        the original name (below {@code prefix}) of a tensor that is not one of the UNet's parts, else
     *                   null
     */
    static Map<String, MappedTensor> map(String network, String prefix, Map<String, long[]> file,
            Map<String, long[]> expected, long addedInput, UnaryOperator<String> own) {
        long[] added = file.get(prefix + "label_emb.0.0.weight");
        if (added == null) {
            throw new IllegalArgumentException(prefix + "* has no label_emb (the added time and text embedding an "
                    + "SDXL " + network + " conditions on): a Stable Diffusion 1.x/2.x " + network
                    + "; expected SDXL base's");
        }
        if (added.length != 2 || added[1] != addedInput) {
            throw new IllegalArgumentException(prefix + "label_emb.0.0.weight takes " + added[added.length - 1]
                    + " features, the configuration " + addedInput
                    + (added[added.length - 1] == REFINER_ADDED_INPUT ? ": the SDXL refiner's " + network
                            + "; expected SDXL base's"
                            : "; is the configuration (models.config) that of this model?"));
        }
        OriginalUNetLayout layout = new OriginalUNetLayout(expected.keySet());
        return SingleFileLayout.map("the " + network + " (" + prefix + "*)", file, expected, e -> {
            String original = own.apply(e.getKey());
            return MappedTensor.of(prefix + (original != null ? original : layout.original(e.getKey())),
                    e.getValue());
        });
    }

    /** The UNet's tensors under their original names, of the same shapes, as single-file checkpoints store them. */
    static Map<String, long[]> stored(Map<String, long[]> expected) {
        OriginalUNetLayout layout = new OriginalUNetLayout(expected.keySet());
        Map<String, long[]> stored = new LinkedHashMap<>();
        expected.forEach((name, shape) -> stored.put(PREFIX + layout.original(name), shape));
        return stored;
    }

    /** The original name of a diffusers UNet tensor. */
    String original(String name) {
        Matcher m = BLOCK.matcher(name);
        if (m.matches()) {
            int block = Integer.parseInt(m.group(2));
            int index = Integer.parseInt(m.group(4));
            String rest = m.group(5);
            boolean down = m.group(1).equals("down");
            int start = (down ? downStart : upStart).getOrDefault(block, 0);
            String sequence = down ? "input_blocks." : "output_blocks.";
            return switch (m.group(3)) {
                case "resnets" -> sequence + (start + index) + ".0." + resnet(rest);
                case "attentions" -> sequence + (start + index) + ".1." + rest;
                // a level's downsampler is the input block after its resnets
                case "downsamplers" -> sequence + (start + downResnets.get(block)) + ".0."
                        + rest.replace("conv.", "op.");
                // a level's upsampler sits in its last output block, after the resnet and the attention if any
                default -> sequence + (start + upResnets.get(block) - 1) + (upAttention.getOrDefault(block, false)
                        ? ".2." : ".1.") + rest;
            };
        }
        Matcher mid = MID.matcher(name);
        if (mid.matches()) {
            int index = Integer.parseInt(mid.group(2));
            return mid.group(1).equals("resnets") ? "middle_block." + 2 * index + "." + resnet(mid.group(3))
                    : "middle_block.1." + mid.group(3);
        }
        int dot = name.lastIndexOf('.');
        String module = name.substring(0, dot);
        return TOP.getOrDefault(module, module) + name.substring(dot);
    }

    private static String resnet(String rest) {
        int dot = rest.indexOf('.');
        return RESNET.getOrDefault(rest.substring(0, dot), rest.substring(0, dot)) + rest.substring(dot);
    }
}

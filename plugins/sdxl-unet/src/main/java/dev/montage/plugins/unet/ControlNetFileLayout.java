package dev.montage.plugins.unet;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.SingleFileLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An SDXL ControlNet in a weights file of its own, in either layout it is shared in: diffusers' names (a
 * {@code diffusion_pytorch_model.safetensors} alone), or the original layout of the ControlNet training code as
 * sd-webui-controlnet and diffusers' {@code convert_controlnet_checkpoint} read it, optionally under
 * {@code control_model.}: the UNet's encoder in the SGM numbering ({@link OriginalUNetLayout}), the conditioning
 * embedding as the convolutions of {@code input_hint_block} (every other module of that sequence is an activation),
 * the residual convolutions as {@code zero_convs.<j>.0} and {@code middle_block_out.0}.
 */
final class ControlNetFileLayout {
    private static final String EMBEDDING = "controlnet_cond_embedding.";
    private static final String CONTROL_MODEL = "control_model.";
    private static final String HINT = "input_hint_block.";
    private static final Pattern BLOCK = Pattern.compile("controlnet_cond_embedding\\.blocks\\.(\\d+)\\.(.+)");
    private static final Pattern ZERO_CONV = Pattern.compile("controlnet_down_blocks\\.(\\d+)\\.(.+)");
    /** diffusers' {@code ControlNetModel.from_unet} default. */
    private static final List<Integer> DEFAULT_EMBEDDING = List.of(16, 32, 96, 256);

    private ControlNetFileLayout() {
    }

    /**
     * @param expected   the ControlNet's tensors by diffusers name, as its configuration makes them
     * @param addedInput the input width of the added embedding the configuration expects
     * @return empty when the file holds no ControlNet in either layout
     */
    static Optional<Map<String, MappedTensor>> view(Map<String, long[]> file, Map<String, long[]> expected,
            long addedInput) {
        if (file.containsKey(EMBEDDING + "conv_in.weight")) {
            return Optional.of(SingleFileLayout.map("the ControlNet (diffusers layout)", file, expected,
                    e -> MappedTensor.of(e.getKey(), e.getValue())));
        }
        return originalPrefix(file).map(prefix -> {
            int blocks = (int) expected.keySet().stream().filter(n -> BLOCK.matcher(n).matches()
                    && n.endsWith(".weight")).count();
            return OriginalUNetLayout.map("ControlNet", prefix, file, expected, addedInput,
                    name -> original(name, blocks));
        });
    }

    /** Where the original layout's names start ({@code control_model.} or nothing), if the file is in it. */
    private static Optional<String> originalPrefix(Map<String, long[]> file) {
        for (String prefix : List.of(CONTROL_MODEL, "")) {
            if (file.containsKey(prefix + HINT + "0.weight")) {
                return Optional.of(prefix);
            }
        }
        return Optional.empty();
    }

    /**
     * The original name of a ControlNet tensor that the UNet has no counterpart of, else null.
     *
     * @param blocks how many convolutions the conditioning embedding has between its first and its last
     */
    private static String original(String name, int blocks) {
        if (name.startsWith(EMBEDDING + "conv_in.")) {
            return HINT + "0." + name.substring((EMBEDDING + "conv_in.").length());
        }
        if (name.startsWith(EMBEDDING + "conv_out.")) {
            return HINT + (2 * blocks + 2) + "." + name.substring((EMBEDDING + "conv_out.").length());
        }
        Matcher block = BLOCK.matcher(name);
        if (block.matches()) {
            return HINT + (2 * Integer.parseInt(block.group(1)) + 2) + "." + block.group(2);
        }
        Matcher zero = ZERO_CONV.matcher(name);
        if (zero.matches()) {
            return "zero_convs." + zero.group(1) + ".0." + zero.group(2);
        }
        if (name.startsWith("controlnet_mid_block.")) {
            return "middle_block_out.0." + name.substring("controlnet_mid_block.".length());
        }
        return null;
    }

    /**
     * The configuration of a ControlNet file, as diffusers' {@code ControlNetModel.from_unet} makes it from the base
     * model's UNet: the UNet's encoder, RGB conditioning, and the conditioning embedding's channels as the file's
     * tensors have them (the defaults where the file holds no ControlNet).
     */
    static ModelConfig derived(ModelConfig unet, Map<String, long[]> file) {
        Map<String, Object> values = new LinkedHashMap<>(unet.asMap());
        values.put("_class_name", "ControlNetModel");
        values.put("controlnet_conditioning_channel_order", "rgb");
        values.put("global_pool_conditions", false);
        List<long[]> convolutions = embedding(file);
        if (convolutions.isEmpty()) {
            values.put("conditioning_channels", 3);
            values.put("conditioning_embedding_out_channels", DEFAULT_EMBEDDING);
        } else {
            // conv_in, then per stage a convolution keeping the channels and a strided one changing them
            List<Long> channels = new ArrayList<>();
            channels.add(convolutions.get(0)[0]);
            for (int i = 2; i < convolutions.size() - 1; i += 2) {
                channels.add(convolutions.get(i)[0]);
            }
            values.put("conditioning_channels", convolutions.get(0)[1]);
            values.put("conditioning_embedding_out_channels", channels);
        }
        return new ModelConfig("the configuration of " + unet.source() + " made a ControlNet's (as diffusers' "
                + "ControlNetModel.from_unet), with the conditioning embedding of the ControlNet file", values);
    }

    /** The weight shapes of the conditioning embedding's convolutions in order, from conv_in to conv_out. */
    private static List<long[]> embedding(Map<String, long[]> file) {
        List<long[]> out = new ArrayList<>();
        if (file.containsKey(EMBEDDING + "conv_in.weight")) {
            out.add(file.get(EMBEDDING + "conv_in.weight"));
            for (int i = 0; file.containsKey(EMBEDDING + "blocks." + i + ".weight"); i++) {
                out.add(file.get(EMBEDDING + "blocks." + i + ".weight"));
            }
            if (file.containsKey(EMBEDDING + "conv_out.weight")) {
                out.add(file.get(EMBEDDING + "conv_out.weight"));
            }
        } else {
            String prefix = originalPrefix(file).orElse(null);
            for (int i = 0; prefix != null && file.containsKey(prefix + HINT + i + ".weight"); i += 2) {
                out.add(file.get(prefix + HINT + i + ".weight"));
            }
        }
        return out.stream().allMatch(s -> s.length == 4) ? out : List.of();
    }
}

package dev.montage.plugins.vae;

import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.SingleFileLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The VAE in a file: under {@code first_stage_model.} of a single-file checkpoint, or alone (as {@code
 * sdxl_vae.safetensors} ships), in the original layout ({@code encoder.down.<i>.block.<j>}, {@code mid.attn_1}, the
 * decoder's {@code up.<i>} numbered from the lowest resolution) or in diffusers' own.
 */
final class OriginalVaeLayout {
    static final String PREFIX = "first_stage_model.";
    private static final Pattern BLOCK = Pattern.compile("(encoder|decoder)\\.(down|up)_blocks\\.(\\d+)\\."
            + "(resnets\\.(\\d+)|downsamplers\\.0|upsamplers\\.0)\\.(.+)");
    private static final Pattern MID = Pattern.compile("(encoder|decoder)\\.mid_block\\."
            + "(resnets\\.(\\d+)|attentions\\.0)\\.(.+)");
    private static final Map<String, String> ATTENTION = Map.of("group_norm", "norm", "to_q", "q", "to_k", "k",
            "to_v", "v", "to_out.0", "proj_out");

    private OriginalVaeLayout() {
    }

    /** @param expected the VAE's tensors by diffusers name, as its configuration makes them */
    static Optional<Map<String, MappedTensor>> view(Map<String, long[]> file, Map<String, long[]> expected) {
        String prefix = file.keySet().stream().anyMatch(n -> n.startsWith(PREFIX)) ? PREFIX : "";
        String what = prefix.isEmpty() ? "the VAE" : "the VAE (" + PREFIX + "*)";
        if (file.containsKey(prefix + "decoder.conv_in.weight") && file.keySet().stream()
                .anyMatch(n -> n.startsWith(prefix + "decoder.up_blocks."))) {
            return Optional.of(SingleFileLayout.map(what, file, expected,
                    e -> MappedTensor.of(prefix + e.getKey(), e.getValue())));
        }
        if (!file.containsKey(prefix + "decoder.conv_in.weight")
                && !file.containsKey(prefix + "encoder.conv_in.weight")) {
            return Optional.empty();
        }
        int levels = levels(expected);
        return Optional.of(SingleFileLayout.map(what, file, expected,
                e -> MappedTensor.of(prefix + original(e.getKey(), levels), e.getValue())));
    }

    /**
     * The VAE's tensors as a single-file checkpoint stores them, under {@code first_stage_model.} in the original
     * layout.
     */
    static Map<String, long[]> stored(Map<String, long[]> expected) {
        int levels = levels(expected);
        Map<String, long[]> stored = new LinkedHashMap<>();
        // the only matrices are the mid attention's projections, which the original code has as 1x1 convolutions
        expected.forEach((name, shape) -> stored.put(PREFIX + original(name, levels),
                shape.length == 2 ? new long[] {shape[0], shape[1], 1, 1} : shape));
        return stored;
    }

    /** How many up blocks the decoder has. */
    private static int levels(Map<String, long[]> expected) {
        return (int) expected.keySet().stream().filter(n -> n.startsWith("decoder.up_blocks."))
                .map(n -> n.split("\\.")[2]).distinct().count();
    }

    /** The original name of a diffusers VAE tensor, with {@code levels} decoder up blocks. */
    static String original(String name, int levels) {
        Matcher m = BLOCK.matcher(name);
        if (m.matches()) {
            int block = Integer.parseInt(m.group(3));
            boolean decoder = m.group(1).equals("decoder");
            String level = decoder ? m.group(1) + ".up." + (levels - 1 - block) : m.group(1) + ".down." + block;
            String part = m.group(5) != null ? "block." + m.group(5) + "." + resnet(m.group(6))
                    : (decoder ? "upsample." : "downsample.") + m.group(6);
            return level + "." + part;
        }
        Matcher mid = MID.matcher(name);
        if (mid.matches()) {
            String rest = mid.group(4);
            if (mid.group(3) != null) {
                return mid.group(1) + ".mid.block_" + (Integer.parseInt(mid.group(3)) + 1) + "." + resnet(rest);
            }
            int dot = rest.lastIndexOf('.');
            String module = rest.substring(0, dot);
            return mid.group(1) + ".mid.attn_1." + ATTENTION.getOrDefault(module, module) + rest.substring(dot);
        }
        return name.replace("conv_norm_out.", "norm_out.");
    }

    private static String resnet(String rest) {
        return rest.startsWith("conv_shortcut.") ? "nin_shortcut." + rest.substring("conv_shortcut.".length()) : rest;
    }
}

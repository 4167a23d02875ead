package dev.montage.dist;

import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The golden ControlNet written as one weights file: alone in diffusers' layout, or in the original layout. The
 * original names of the parts the ControlNet shares with the UNet are those diffusers' own conversion gave the golden
 * UNet in the golden single file (found by the UNet folder's tensor of the same diffusers name, which is stored there
 * bit for bit); the ControlNet's own parts are renamed as diffusers v0.23.1's {@code convert_controlnet_checkpoint}
 * reads them, inverted.
 */
final class ControlNetFiles {
    private static final String UNET_PREFIX = "model.diffusion_model.";
    private static final Pattern BLOCK = Pattern.compile("controlnet_cond_embedding\\.blocks\\.(\\d+)\\.(\\w+)");
    private static final Pattern DOWN = Pattern.compile("controlnet_down_blocks\\.(\\d+)\\.(\\w+)");
    /** The golden embedding has conv_in, 6 blocks and conv_out: input_hint_block.0, .2 ... .12, .14. */
    private static final int HINT_OUT = 14;

    private ControlNetFiles() {
    }

    private static Path folderWeights() {
        return Golden.model().resolve("controlnet/diffusion_pytorch_model.safetensors");
    }

    /** The folder's weights file alone, under another name. */
    static Path diffusers(Path file) throws IOException {
        return write(file, read(folderWeights(), n -> true));
    }

    /**
     * The ControlNet in the original layout under a prefix ({@code control_model.} or nothing), without the tensors
     * (by original name) {@code drop} accepts.
     */
    static Path original(Path file, String prefix, Predicate<String> drop) throws IOException {
        Map<ByteBuffer, String> convertedUNet = new HashMap<>();
        read(Golden.singleFile("tiny-sdxl.safetensors"), n -> n.startsWith(UNET_PREFIX))
                .forEach(t -> convertedUNet.put(t.data(), t.name().substring(UNET_PREFIX.length())));
        Map<String, ByteBuffer> unet = new HashMap<>();
        read(Golden.model().resolve("unet/diffusion_pytorch_model.safetensors"), n -> true)
                .forEach(t -> unet.put(t.name(), t.data()));
        List<RawTensor> out = new ArrayList<>();
        for (RawTensor t : read(folderWeights(), n -> true)) {
            String name = t.name();
            String original = unet.containsKey(name) ? convertedUNet.get(unet.get(name)) : own(name);
            if (original == null) {
                throw new IllegalStateException("no original name for " + name);
            }
            if (!drop.test(original)) {
                out.add(t.renamed(prefix + original));
            }
        }
        return write(file, out);
    }

    private static String own(String name) {
        Matcher block = BLOCK.matcher(name);
        Matcher down = DOWN.matcher(name);
        if (block.matches()) {
            return "input_hint_block." + (2 + 2 * Integer.parseInt(block.group(1))) + "." + block.group(2);
        } else if (down.matches()) {
            return "zero_convs." + down.group(1) + ".0." + down.group(2);
        }
        return Map.of("controlnet_cond_embedding.conv_in.weight", "input_hint_block.0.weight",
                "controlnet_cond_embedding.conv_in.bias", "input_hint_block.0.bias",
                "controlnet_cond_embedding.conv_out.weight", "input_hint_block." + HINT_OUT + ".weight",
                "controlnet_cond_embedding.conv_out.bias", "input_hint_block." + HINT_OUT + ".bias",
                "controlnet_mid_block.weight", "middle_block_out.0.weight",
                "controlnet_mid_block.bias", "middle_block_out.0.bias").get(name);
    }

    private static List<RawTensor> read(Path file, Predicate<String> keep) throws IOException {
        List<RawTensor> tensors = new ArrayList<>();
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            reader.names().stream().filter(keep).forEach(n -> {
                RawTensor t = reader.tensor(n);
                ByteBuffer copy = ByteBuffer.allocate(t.data().remaining()).put(t.data().duplicate()).flip();
                tensors.add(new RawTensor(n, t.dtype(), t.shape(), copy));
            });
        }
        return tensors;
    }

    private static Path write(Path file, List<RawTensor> tensors) throws IOException {
        SafetensorsWriter.write(file, Map.of(), tensors);
        return file;
    }
}

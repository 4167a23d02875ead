package dev.montage.runtime.pipeline;

import dev.montage.api.ConfigurationException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A LoRA (kohya-ss or diffusers format) applied to a pipeline's models when they are loaded, with the same strength on
 * every model it adapts (the UNet and the text encoders).
 *
 * @param file            the {@code .safetensors} file
 * @param scale           the strength: each adapted weight {@code W} becomes {@code W + scale * alpha / rank * up @
 *                        down}
 * @param ignoreUnmatched whether its modules that name no layer of the pipeline's models are left out rather than
 *                        refused
 */
public record Lora(Path file, double scale, boolean ignoreUnmatched) {
    /** The strength of a LoRA given without one. */
    public static final double DEFAULT_SCALE = 1.0;

    public Lora {
        Objects.requireNonNull(file, "file");
        if (!Double.isFinite(scale)) {
            throw new IllegalArgumentException("the scale of LoRA " + file + " is " + scale + "; expected a number");
        }
    }

    /** A LoRA all of whose modules must name a layer. */
    public Lora(Path file, double scale) {
        this(file, scale, false);
    }

    /**
     * A LoRA written {@code FILE[:SCALE]}, e.g. {@code styles.safetensors:0.8}.
     *
     * @throws ConfigurationException when the text after the last {@code :} is not a number
     */
    public static Lora parse(String text) {
        int colon = text.lastIndexOf(':');
        // a colon followed by a path separator belongs to the path (a Windows drive)
        if (colon < 0 || text.indexOf('/', colon) >= 0 || text.indexOf('\\', colon) >= 0) {
            return new Lora(Path.of(text), DEFAULT_SCALE);
        }
        String scale = text.substring(colon + 1);
        try {
            return new Lora(Path.of(text.substring(0, colon)), Double.parseDouble(scale));
        } catch (NumberFormatException e) {
            throw new ConfigurationException("LoRA '" + text + "': scale '" + scale + "' is not a number; "
                    + "expected FILE[:SCALE], e.g. style.safetensors:0.8", e);
        }
    }

    /** The key under which results' parameters name the LoRA applied {@code index}-th. */
    public static String parameterKey(int index) {
        return "lora." + index;
    }

    /** LoRAs as results' parameters name them: {@code lora.N = FILE:SCALE} in the order applied ({@link #parse}). */
    static Map<String, String> describe(List<Lora> loras) {
        Map<String, String> d = new LinkedHashMap<>();
        for (int i = 0; i < loras.size(); i++) {
            d.put(parameterKey(i), loras.get(i).file() + ":" + loras.get(i).scale());
        }
        return d;
    }
}

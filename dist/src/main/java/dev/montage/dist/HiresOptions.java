package dev.montage.dist;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import picocli.CommandLine.Option;

/**
 * The flags of a hires pass (A1111's hires fix) on {@code generate} and {@code submit}, as a request's {@code hires}
 * fields: each given one is laid over what {@code --from} records.
 */
final class HiresOptions {
    /** The flag that sets a {@code hires} field, for messages. */
    static String flag(String field) {
        return switch (field) {
            case "hires.width", "hires.height" -> "--hires-size";
            default -> field.startsWith("hires.schedulerOptions") ? "--hires-scheduler-option"
                    : "--" + field.replace('.', '-');
        };
    }

    @Option(names = "--hires-scale", description = "Add a second pass at a larger size (A1111's hires fix): the first "
            + "pass's result enlarged by this factor, 1 to 4, and denoised again.")
    Double scale;

    @Option(names = "--hires-size", paramLabel = "WxH", description = "The second pass's size instead of "
            + "--hires-scale, multiples of 8.")
    String size;

    @Option(names = "--hires-strength", description = "How much the second pass changes the enlarged picture, in "
            + "(0, 1] (default 0.7).")
    Double strength;

    @Option(names = "--hires-steps", description = "The second pass's steps, before --hires-strength takes its share "
            + "(default: --steps).")
    Integer steps;

    @Option(names = "--hires-upscaler", description = "How the first pass is enlarged: latent (its latents, "
            + "bilinearly; the default), latent-nearest, latent-nearest-exact, latent-antialiased, latent-bicubic, "
            + "latent-bicubic-antialiased, or lanczos (its picture, encoded again); A1111's names are read too.")
    String upscaler;

    @Option(names = "--hires-scheduler", description = "The second pass's scheduler id (A1111's Hires sampler; "
            + "default: the first pass's scheduler and its settings).")
    String scheduler;

    @Option(names = "--hires-scheduler-option", paramLabel = "NAME=VALUE", description = "A setting of "
            + "--hires-scheduler, as --scheduler-option is of --scheduler (repeatable).")
    Map<String, String> schedulerOptions = new LinkedHashMap<>();

    @Option(names = "--hires-prompt", description = "The second pass's prompt (A1111's Hires prompt; default: the "
            + "prompt).")
    String prompt;

    @Option(names = "--hires-negative-prompt", description = "The second pass's negative prompt (A1111's Hires "
            + "negative prompt; default: the negative prompt).")
    String negativePrompt;

    @Option(names = "--hires-guidance", description = "The second pass's guidance scale, >= 1 (A1111's Hires CFG "
            + "Scale; default: --guidance).")
    Double guidance;

    /**
     * The request's {@code hires} fields these flags give, the size as {@code width} and {@code height}; null where a
     * flag is not given.
     *
     * @throws IllegalArgumentException for a malformed --hires-size
     */
    Map<String, Object> given() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("scale", scale);
        if (size != null) {
            String[] wh = size.split("x");
            try {
                if (wh.length != 2) {
                    throw new NumberFormatException(size);
                }
                fields.put("width", Integer.parseInt(wh[0].strip()));
                fields.put("height", Integer.parseInt(wh[1].strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--hires-size must be WIDTHxHEIGHT, e.g. 1536x1536, got '" + size
                        + "'", e);
            }
        }
        fields.put("strength", strength);
        fields.put("steps", steps);
        fields.put("upscaler", upscaler);
        fields.put("scheduler", scheduler);
        fields.put("schedulerOptions", schedulerOptions.isEmpty() ? null : Map.copyOf(schedulerOptions));
        fields.put("guidance", guidance);
        fields.put("prompt", prompt);
        fields.put("negativePrompt", negativePrompt);
        return fields;
    }

    /** Whether any flag is given. */
    boolean any() {
        return given().values().stream().anyMatch(Objects::nonNull);
    }
}

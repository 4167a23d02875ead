package dev.montage.api;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A second pass at a larger size, as AUTOMATIC1111's "Hires. fix" runs it: the generation first runs at the request's
 * size; its result is enlarged to this size, noised to the level of the step at which the second pass begins, and
 * denoised again with the same subjects (whose boxes are relative), controls and seed, and the request's prompts,
 * scheduler and guidance unless the pass names its own (A1111's "Hires prompt", "Hires sampler" and "Hires CFG
 * Scale"). Of the second pass's N steps the last ⌊N · strength⌋ run, as a run from a picture takes them
 * ({@link InitImage#stepsTaken}).
 *
 * @param width    the output width, a positive multiple of 8 no smaller than the request's
 * @param height   the output height, a positive multiple of 8 no smaller than the request's
 * @param strength how much the second pass changes the enlarged picture, in (0, 1]; A1111's default is
 *                 {@link #DEFAULT_STRENGTH}
 * @param steps    the second pass's steps before the strength takes its share, or 0 for the request's (A1111's
 *                 "Hires steps" of 0)
 * @param upscaler how the first pass's result is enlarged
 * @param scheduler        the second pass's scheduler id, or empty for the request's scheduler and its settings
 * @param schedulerOptions the settings of {@code scheduler} (as a request's {@code schedulerOptions}); empty without
 *                         one
 * @param guidance         the second pass's classifier-free guidance scale, &ge; 1 (1 disables guidance), or 0 for the
 *                         request's
 * @param prompt           the second pass's prompt, or empty for the request's
 * @param negativePrompt   the second pass's negative prompt, or empty for the request's
 */
public record Hires(int width, int height, double strength, int steps, Upscaler upscaler, Optional<String> scheduler,
        Map<String, String> schedulerOptions, double guidance, Optional<String> prompt,
        Optional<String> negativePrompt) {

    /** A1111's default denoising strength of its hires pass. */
    public static final double DEFAULT_STRENGTH = 0.7;

    /** The largest factor a hires pass may enlarge by, A1111's: 4. */
    public static final double MAX_SCALE = 4;

    /** How the first pass's result is enlarged to the second pass's size. */
    public enum Upscaler {
        /**
         * The latents, bilinearly (PyTorch's {@code interpolate} without corner alignment or antialiasing): A1111's
         * "Latent", its default.
         */
        LATENT("latent", "Latent", true),
        /** The latents, each from the nearest, PyTorch's {@code mode="nearest"}: A1111's "Latent (nearest)". */
        LATENT_NEAREST("latent-nearest", "Latent (nearest)", true),
        /**
         * The latents, each from the nearest by its centre, PyTorch's {@code mode="nearest-exact"}: A1111's
         * "Latent (nearest-exact)".
         */
        LATENT_NEAREST_EXACT("latent-nearest-exact", "Latent (nearest-exact)", true),
        /**
         * The latents, bilinearly with PyTorch's antialiasing, which for an enlargement is the plain bilinear: A1111's
         * "Latent (antialiased)".
         */
        LATENT_ANTIALIASED("latent-antialiased", "Latent (antialiased)", true),
        /**
         * The latents, bicubically (PyTorch's {@code mode="bicubic"} without corner alignment or antialiasing: its
         * cubic convolution with A = −0.75 over four clamped taps): A1111's "Latent (bicubic)".
         */
        LATENT_BICUBIC("latent-bicubic", "Latent (bicubic)", true),
        /**
         * The latents, bicubically with PyTorch's antialiasing (Pillow's cubic filter, A = −0.5, its weights
         * normalised over the taps inside the picture): A1111's "Latent (bicubic antialiased)".
         */
        LATENT_BICUBIC_ANTIALIASED("latent-bicubic-antialiased", "Latent (bicubic antialiased)", true),
        /**
         * The decoded picture with Pillow's Lanczos filter, encoded again: A1111's "Lanczos", and its "None", which
         * resizes the picture with the same filter.
         */
        LANCZOS("lanczos", "Lanczos", false);

        /** A1111's name of its upscaler that is a plain resize with Pillow's Lanczos filter. */
        private static final String A1111_NONE = "None";

        private final String id;
        private final String a1111Name;
        private final boolean latent;

        Upscaler(String id, String a1111Name, boolean latent) {
            this.id = id;
            this.a1111Name = a1111Name;
            this.latent = latent;
        }

        /** Whether it enlarges the latents themselves, else the decoded picture. */
        public boolean latent() {
            return latent;
        }

        /** The name requests and profiles give, e.g. {@code latent}. */
        public String id() {
            return id;
        }

        /** The name A1111 writes as "Hires upscaler", e.g. {@code Latent}. */
        public String a1111Name() {
            return a1111Name;
        }

        /**
         * The upscaler of an id or of A1111's name, in any case.
         *
         * @throws IllegalArgumentException naming {@code hires.upscaler}, the value and the names known
         */
        public static Upscaler of(String name) {
            if (A1111_NONE.equalsIgnoreCase(name)) {
                return LANCZOS;
            }
            for (Upscaler u : values()) {
                if (u.id.equalsIgnoreCase(name) || u.a1111Name.equalsIgnoreCase(name)) {
                    return u;
                }
            }
            throw new IllegalArgumentException("hires.upscaler '" + name + "' is none of " + Arrays.stream(values())
                    .map(Upscaler::id).toList() + " (A1111's " + Arrays.stream(values()).map(Upscaler::a1111Name)
                            .toList() + ")");
        }
    }

    /**
     * @throws IllegalArgumentException naming the field: a size not a positive multiple of 8, strength outside
     *     (0, 1], negative steps, no upscaler, a blank scheduler id, settings without a scheduler, guidance neither 0
     *     nor a finite number &ge; 1, a prompt longer than {@link GenerationRequest#MAX_TEXT_LENGTH}
     */
    public Hires {
        scheduler = Objects.requireNonNullElse(scheduler, Optional.empty());
        prompt = Objects.requireNonNullElse(prompt, Optional.empty());
        negativePrompt = Objects.requireNonNullElse(negativePrompt, Optional.empty());
        checkLength("hires.prompt", prompt);
        checkLength("hires.negativePrompt", negativePrompt);
        schedulerOptions = Map.copyOf(Objects.requireNonNullElse(schedulerOptions, Map.of()));
        if (scheduler.filter(String::isBlank).isPresent()) {
            throw new IllegalArgumentException("hires.scheduler must name a scheduler, got a blank id");
        }
        if (scheduler.isEmpty() && !schedulerOptions.isEmpty()) {
            throw new IllegalArgumentException("hires.schedulerOptions needs hires.scheduler: without one the second "
                    + "pass runs the request's scheduler with the request's schedulerOptions");
        }
        if (!(guidance == 0 || guidance >= 1 && Double.isFinite(guidance))) {
            throw new IllegalArgumentException("hires.guidance must be a finite number >= 1 (1 disables guidance), or "
                    + "0 for the request's, got " + guidance);
        }
        if (width <= 0 || width % 8 != 0) {
            throw new IllegalArgumentException("hires.width must be a positive multiple of 8, got " + width);
        }
        if (height <= 0 || height % 8 != 0) {
            throw new IllegalArgumentException("hires.height must be a positive multiple of 8, got " + height);
        }
        if (!(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("hires.strength must be in (0, 1], got " + strength);
        }
        if (steps < 0) {
            throw new IllegalArgumentException("hires.steps must be >= 0 (0 for the request's), got " + steps);
        }
        if (upscaler == null) {
            throw new IllegalArgumentException("hires.upscaler is required");
        }
    }

    /**
     * A pass that takes the request's scheduler and guidance (the record of API 0.2.7).
     *
     * @throws IllegalArgumentException as the canonical constructor
     */
    public Hires(int width, int height, double strength, int steps, Upscaler upscaler) {
        this(width, height, strength, steps, upscaler, Optional.empty(), Map.of(), 0, Optional.empty(),
                Optional.empty());
    }

    private static void checkLength(String field, Optional<String> text) {
        text.filter(t -> t.length() > GenerationRequest.MAX_TEXT_LENGTH).ifPresent(t -> {
            throw new IllegalArgumentException(field + " must be at most " + GenerationRequest.MAX_TEXT_LENGTH
                    + " characters, got " + t.length());
        });
    }

    /**
     * This pass with its own scheduler and settings, or with the request's for a null id.
     *
     * @throws IllegalArgumentException as the canonical constructor
     */
    public Hires withScheduler(String id, Map<String, String> options) {
        return new Hires(width, height, strength, steps, upscaler, Optional.ofNullable(id), options, guidance, prompt,
                negativePrompt);
    }

    /**
     * This pass with its own guidance scale, or the request's for 0.
     *
     * @throws IllegalArgumentException as the canonical constructor
     */
    public Hires withGuidance(double scale) {
        return new Hires(width, height, strength, steps, upscaler, scheduler, schedulerOptions, scale, prompt,
                negativePrompt);
    }

    /**
     * This pass with its own prompt and negative prompt, each the request's where null (A1111's "Hires prompt" and
     * "Hires negative prompt").
     *
     * @throws IllegalArgumentException as the canonical constructor
     */
    public Hires withPrompts(String hiresPrompt, String hiresNegativePrompt) {
        return new Hires(width, height, strength, steps, upscaler, scheduler, schedulerOptions, guidance,
                Optional.ofNullable(hiresPrompt), Optional.ofNullable(hiresNegativePrompt));
    }

    /** The second pass's guidance for a request of {@code requestGuidance}: {@link #guidance()}, or the request's. */
    public double guidance(double requestGuidance) {
        return guidance == 0 ? requestGuidance : guidance;
    }

    /**
     * The hires pass of a request of this size enlarged by {@code scale}, as A1111 sizes it ({@code int(width *
     * scale)}), each side then rounded down to a multiple of 8 as its latents are.
     *
     * @throws IllegalArgumentException naming {@code hires.scale} when it is not in [1, {@link #MAX_SCALE}]
     */
    public static Hires scaled(int width, int height, double scale, double strength, int steps, Upscaler upscaler) {
        if (!(scale >= 1 && scale <= MAX_SCALE)) {
            throw new IllegalArgumentException("hires.scale must be in [1, " + (int) MAX_SCALE + "], got " + scale);
        }
        return new Hires((int) (width * scale) / 8 * 8, (int) (height * scale) / 8 * 8, strength, steps, upscaler);
    }

    /**
     * The hires pass of settings as a request's fields give them, each optional but the size: {@code scale}, or
     * {@code width} and {@code height}; the strength, steps and upscaler default to {@link #DEFAULT_STRENGTH}, 0 (the
     * request's steps) and {@link Upscaler#LATENT}, A1111's defaults.
     *
     * @param upscaler an upscaler's id or A1111 name ({@link Upscaler#of})
     * @throws IllegalArgumentException whose message begins with the field it names ({@code hires.scale} ...)
     */
    public static Hires of(Double scale, Integer width, Integer height, Double strength, Integer steps,
            String upscaler, int requestWidth, int requestHeight) {
        if (scale != null && (width != null || height != null)) {
            throw new IllegalArgumentException("hires.scale cannot be given with hires.width and hires.height: give "
                    + "one or the other");
        }
        if (scale == null && width == null && height == null) {
            throw new IllegalArgumentException("hires.scale (or hires.width and hires.height) is required");
        }
        if (scale == null && (width == null || height == null)) {
            throw new IllegalArgumentException(width == null ? "hires.width is required with hires.height"
                    : "hires.height is required with hires.width");
        }
        double s = strength == null ? DEFAULT_STRENGTH : strength;
        int n = steps == null ? 0 : steps;
        Upscaler u = upscaler == null ? Upscaler.LATENT : Upscaler.of(upscaler);
        return scale != null ? scaled(requestWidth, requestHeight, scale, s, n, u) : new Hires(width, height, s, n, u);
    }

    /** The factor a request of this width is enlarged by, as A1111's "Hires upscale" gives it. */
    public double scale(int requestWidth) {
        return (double) width / requestWidth;
    }

    /** The second pass's steps for a request of {@code requestSteps}: {@link #steps()}, or the request's for 0. */
    public int steps(int requestSteps) {
        return steps == 0 ? requestSteps : steps;
    }

    /** How many of the second pass's steps are taken: ⌊N · strength⌋ of its N, as {@link InitImage#stepsTaken}. */
    public int stepsTaken(int requestSteps) {
        int n = steps(requestSteps);
        return Math.min((int) (n * strength), n);
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "%dx%d, strength %s, %s steps, %s", width,
                height, strength, steps == 0 ? "the request's" : String.valueOf(steps), upscaler.id()));
        scheduler.ifPresent(id -> out.append(", scheduler ").append(id).append(schedulerOptions.isEmpty() ? ""
                : " " + new TreeMap<>(schedulerOptions)));
        if (guidance != 0) {
            out.append(", guidance ").append(guidance);
        }
        prompt.ifPresent(p -> out.append(", prompt '").append(p).append('\''));
        negativePrompt.ifPresent(p -> out.append(", negative prompt '").append(p).append('\''));
        return out.toString();
    }
}

package dev.montage.api;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything one generation needs, validated as a whole: {@link Builder#build()} reports every invalid field
 * at once in an {@link InvalidRequestException}.
 *
 * @param prompt         the text prompt (may be empty, never null), at most {@link #MAX_TEXT_LENGTH} characters
 * @param negativePrompt the negative prompt; empty means "none" (the model folder decides whether that is
 *                       encoded or replaced by zeros); at most {@link #MAX_TEXT_LENGTH} characters
 * @param subjects       subjects in order; their tokens follow the dummy tokens in that order; each phrase at
 *                       most {@link #MAX_PHRASE_LENGTH} characters
 * @param controls       spatial controls, residuals summed
 * @param width          output width in pixels, a positive multiple of 8
 * @param height         output height in pixels, a positive multiple of 8
 * @param steps          number of denoising steps, &gt; 0
 * @param guidanceScale  classifier-free guidance scale, &ge; 1; exactly 1 disables guidance (no unconditional
 *                       pass), as in diffusers
 * @param imageScale     global scale of the subjects' image attention, &ge; 0 (a subject's own scale wins)
 * @param seed           seed of the initial noise
 * @param numImages      images per request, &gt; 0
 * @param scheduler      scheduler component id, or empty for the profile's default
 * @param schedulerOptions settings of the scheduler for this request, laid over the profile's (diffusers'
 *                       configuration names, e.g. {@code eta} or {@code timestep_spacing}, values as text); the
 *                       pipeline refuses a setting its scheduler does not read
 * @param autoLayout     auto layout settings, or empty for fixed boxes
 * @param initLatents    starting noise to use instead of drawing it from {@code seed}: [numImages, C, h, w] with
 *                       h = height/8, w = width/8 for SDXL
 * @param initImage      the picture to start from (image-to-image), or empty to start from noise; not with
 *                       {@code initLatents}
 * @param hires          a second pass at a larger size (A1111's hires fix), or empty for one pass; not with
 *                       {@code initImage}
 * @param variation      a variation of the starting noise towards another seed's (A1111's variation seed), or empty;
 *                       not with {@code initLatents}
 * @param guidanceRescale φ of the guided prediction's rescaling towards the conditional one's standard deviation
 *                       (diffusers' {@code guidance_rescale}, Lin et al. 2023), in [0, 1]; 0 for none; only with
 *                       guidance
 * @param perturbedAttention perturbed-attention guidance, or empty for none; with or without classifier-free
 *                       guidance
 * @param seedResizeFrom the size whose starting noise the request keeps in its middle (A1111's "Seed resize from"), or
 *                       empty for the request's own; not with {@code initLatents}
 */
public record GenerationRequest(
        String prompt,
        String negativePrompt,
        List<Subject> subjects,
        List<Control> controls,
        int width,
        int height,
        int steps,
        double guidanceScale,
        double imageScale,
        long seed,
        int numImages,
        Optional<String> scheduler,
        Map<String, String> schedulerOptions,
        Optional<AutoLayout> autoLayout,
        Optional<Latents> initLatents,
        Optional<InitImage> initImage,
        Optional<Hires> hires,
        Optional<Variation> variation,
        double guidanceRescale,
        Optional<PerturbedAttention> perturbedAttention,
        Optional<SeedResize> seedResizeFrom) {

    /** MS-Diffusion's default negative prompt (its {@code MSAdapter.generate}). */
    public static final String DEFAULT_NEGATIVE_PROMPT = "monochrome, lowres, bad anatomy, worst quality, low quality";

    /**
     * The longest prompt or negative prompt, in characters. The text encoders read 77 tokens; the limit only keeps a
     * request's text work bounded, far above anything those tokens can hold.
     */
    public static final int MAX_TEXT_LENGTH = 16_384;

    /** The longest subject phrase, in characters (a phrase names a subject with a few words of the prompt). */
    public static final int MAX_PHRASE_LENGTH = 1_024;

    /**
     * Canonical constructor; prefer {@link #builder(String)}.
     *
     * @throws InvalidRequestException listing every invalid field
     */
    public GenerationRequest {
        subjects = List.copyOf(Objects.requireNonNullElse(subjects, List.of()));
        controls = List.copyOf(Objects.requireNonNullElse(controls, List.of()));
        scheduler = Objects.requireNonNullElse(scheduler, Optional.empty());
        schedulerOptions = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNullElse(
                schedulerOptions, Map.of())));
        autoLayout = Objects.requireNonNullElse(autoLayout, Optional.empty());
        initLatents = Objects.requireNonNullElse(initLatents, Optional.empty());
        initImage = Objects.requireNonNullElse(initImage, Optional.empty());
        hires = Objects.requireNonNullElse(hires, Optional.empty());
        variation = Objects.requireNonNullElse(variation, Optional.empty());
        perturbedAttention = Objects.requireNonNullElse(perturbedAttention, Optional.empty());
        seedResizeFrom = Objects.requireNonNullElse(seedResizeFrom, Optional.empty());
        negativePrompt = Objects.requireNonNullElse(negativePrompt, "");
        List<FieldError> errors = new ArrayList<>();
        if (prompt == null) {
            errors.add(new FieldError("prompt", "is required (may be empty)"));
        } else if (prompt.length() > MAX_TEXT_LENGTH) {
            errors.add(new FieldError("prompt", "must be at most " + MAX_TEXT_LENGTH + " characters, got "
                    + prompt.length()));
        }
        if (negativePrompt.length() > MAX_TEXT_LENGTH) {
            errors.add(new FieldError("negativePrompt", "must be at most " + MAX_TEXT_LENGTH + " characters, got "
                    + negativePrompt.length()));
        }
        if (width <= 0 || width % 8 != 0) {
            errors.add(new FieldError("width", "must be a positive multiple of 8, got " + width));
        }
        if (height <= 0 || height % 8 != 0) {
            errors.add(new FieldError("height", "must be a positive multiple of 8, got " + height));
        }
        if (steps <= 0) {
            errors.add(new FieldError("steps", "must be > 0, got " + steps));
        }
        if (!(guidanceScale >= 1 && Double.isFinite(guidanceScale))) {
            errors.add(new FieldError("guidanceScale", "must be a finite number >= 1 (1 disables guidance), got "
                    + guidanceScale));
        }
        if (!(imageScale >= 0 && Double.isFinite(imageScale))) {
            errors.add(new FieldError("imageScale", "must be a finite number >= 0, got " + imageScale));
        }
        if (numImages <= 0) {
            errors.add(new FieldError("numImages", "must be > 0, got " + numImages));
        }
        if (scheduler.isPresent() && scheduler.get().isBlank()) {
            errors.add(new FieldError("scheduler", "must be a scheduler id, got a blank string"));
        }
        schedulerOptions.forEach((name, value) -> {
            if (name == null || name.isBlank()) {
                errors.add(new FieldError("schedulerOptions", "must name each setting, got a blank name"));
            } else if (value == null) {
                errors.add(new FieldError("schedulerOptions." + name, "has no value"));
            }
        });
        for (int i = 0; i < subjects.size(); i++) {
            if (subjects.get(i) == null) {
                errors.add(new FieldError("subjects[" + i + "]", "is null"));
            } else if (subjects.get(i).phrase() != null && subjects.get(i).phrase().length() > MAX_PHRASE_LENGTH) {
                errors.add(new FieldError("subjects[" + i + "].phrase", "must be at most " + MAX_PHRASE_LENGTH
                        + " characters, got " + subjects.get(i).phrase().length()));
            }
        }
        for (int i = 0; i < controls.size(); i++) {
            if (controls.get(i) == null) {
                errors.add(new FieldError("controls[" + i + "]", "is null"));
            }
        }
        // a run from a picture takes only its last steps, which auto layout counts in
        int taken = initImage.map(i -> i.stepsTaken(steps)).orElse(steps);
        if (initImage.isPresent() && taken == 0 && steps > 0) {
            errors.add(new FieldError("initImage.strength", "takes no step of " + steps + " at " + initImage.get()
                    .strength() + ": it must be at least 1/" + steps + " (" + (1.0 / steps) + ")"));
        }
        if (autoLayout.isPresent() && autoLayout.get().startStep() >= taken && taken > 0) {
            errors.add(new FieldError("autoLayout.startStep", "must be < " + (initImage.isPresent()
                    ? "the steps taken from the init image (" + taken + ")" : "steps (" + steps + ")") + ", got "
                    + autoLayout.get().startStep()));
        }
        if (initImage.isPresent() && initLatents.isPresent()) {
            errors.add(new FieldError("initLatents", "cannot be given with initImage, whose noise comes from the "
                    + "seed"));
        }
        if (hires.isPresent()) {
            hiresProblems(hires.get(), width, height, steps, initImage.isPresent(), autoLayout, errors);
        }
        if (!(guidanceRescale >= 0 && guidanceRescale <= 1)) {
            errors.add(new FieldError("guidanceRescale", "must be in [0, 1] (0 for none), got " + guidanceRescale));
        } else if (guidanceRescale > 0 && guidanceScale == 1) {
            errors.add(new FieldError("guidanceRescale", "rescales classifier-free guidance, which guidanceScale 1 "
                    + "turns off"));
        }
        if (seedResizeFrom.isPresent() && initLatents.isPresent()) {
            errors.add(new FieldError("seedResizeFrom", "cannot be given with initLatents, which replace the starting "
                    + "noise it draws"));
        }
        if (variation.isPresent() && initLatents.isPresent()) {
            errors.add(new FieldError("variation", "cannot be given with initLatents, which replace the starting noise "
                    + "it varies"));
        }
        if (initLatents.isPresent() && initLatents.get().shape()[0] != numImages) {
            errors.add(new FieldError("initLatents", "batch " + initLatents.get().shape()[0]
                    + " must equal numImages " + numImages));
        }
        if (!errors.isEmpty()) {
            throw new InvalidRequestException(errors);
        }
    }

    /** Where a second pass does not fit the first: a smaller size, a picture to start from, no step taken. */
    private static void hiresProblems(Hires h, int width, int height, int steps, boolean fromPicture,
            Optional<AutoLayout> autoLayout, List<FieldError> errors) {
        if (h.width() < width || h.height() < height) {
            errors.add(new FieldError("hires", "must be at least the request's size " + width + "x" + height + ", got "
                    + h.width() + "x" + h.height()));
        }
        if (fromPicture) {
            errors.add(new FieldError("hires", "cannot be given with initImage: a second pass follows a generation "
                    + "from noise, as A1111's hires fix follows text-to-image"));
        }
        int taken = h.stepsTaken(steps);
        if (taken == 0) {
            errors.add(new FieldError("hires.strength", "takes no step of the second pass's " + h.steps(steps)
                    + " at " + h.strength() + ": it must be at least 1/" + h.steps(steps)));
        } else if (autoLayout.isPresent() && autoLayout.get().startStep() >= taken) {
            errors.add(new FieldError("autoLayout.startStep", "must be < the steps the hires pass takes (" + taken
                    + "), as the second pass lays its subjects out again, got " + autoLayout.get().startStep()));
        }
    }

    /**
     * The constructor of API 0.2.8: no perturbed-attention guidance, no seed resize.
     *
     * @throws InvalidRequestException listing every invalid field
     */
    public GenerationRequest(String prompt, String negativePrompt, List<Subject> subjects, List<Control> controls,
            int width, int height, int steps, double guidanceScale, double imageScale, long seed, int numImages,
            Optional<String> scheduler, Map<String, String> schedulerOptions, Optional<AutoLayout> autoLayout,
            Optional<Latents> initLatents, Optional<InitImage> initImage, Optional<Hires> hires,
            Optional<Variation> variation, double guidanceRescale) {
        this(prompt, negativePrompt, subjects, controls, width, height, steps, guidanceScale, imageScale, seed,
                numImages, scheduler, schedulerOptions, autoLayout, initLatents, initImage, hires, variation,
                guidanceRescale, Optional.empty(), Optional.empty());
    }

    /**
     * The constructor of API 0.2.7: no guidance rescale.
     *
     * @throws InvalidRequestException listing every invalid field
     */
    public GenerationRequest(String prompt, String negativePrompt, List<Subject> subjects, List<Control> controls,
            int width, int height, int steps, double guidanceScale, double imageScale, long seed, int numImages,
            Optional<String> scheduler, Map<String, String> schedulerOptions, Optional<AutoLayout> autoLayout,
            Optional<Latents> initLatents, Optional<InitImage> initImage, Optional<Hires> hires,
            Optional<Variation> variation) {
        this(prompt, negativePrompt, subjects, controls, width, height, steps, guidanceScale, imageScale, seed,
                numImages, scheduler, schedulerOptions, autoLayout, initLatents, initImage, hires, variation, 0,
                Optional.empty(), Optional.empty());
    }

    /**
     * The constructor of API 0.2.6: no hires pass, no variation.
     *
     * @throws InvalidRequestException listing every invalid field
     */
    public GenerationRequest(String prompt, String negativePrompt, List<Subject> subjects, List<Control> controls,
            int width, int height, int steps, double guidanceScale, double imageScale, long seed, int numImages,
            Optional<String> scheduler, Map<String, String> schedulerOptions, Optional<AutoLayout> autoLayout,
            Optional<Latents> initLatents, Optional<InitImage> initImage) {
        this(prompt, negativePrompt, subjects, controls, width, height, steps, guidanceScale, imageScale, seed,
                numImages, scheduler, schedulerOptions, autoLayout, initLatents, initImage, Optional.empty(),
                Optional.empty());
    }

    /**
     * The constructor of API 0.2.5: no init image.
     *
     * @throws InvalidRequestException listing every invalid field
     */
    public GenerationRequest(String prompt, String negativePrompt, List<Subject> subjects, List<Control> controls,
            int width, int height, int steps, double guidanceScale, double imageScale, long seed, int numImages,
            Optional<String> scheduler, Map<String, String> schedulerOptions, Optional<AutoLayout> autoLayout,
            Optional<Latents> initLatents) {
        this(prompt, negativePrompt, subjects, controls, width, height, steps, guidanceScale, imageScale, seed,
                numImages, scheduler, schedulerOptions, autoLayout, initLatents, Optional.empty(), Optional.empty(),
                Optional.empty());
    }

    /**
     * The constructor of API 0.2.4 and before: no scheduler options, no init image.
     *
     * @throws InvalidRequestException listing every invalid field
     */
    public GenerationRequest(String prompt, String negativePrompt, List<Subject> subjects, List<Control> controls,
            int width, int height, int steps, double guidanceScale, double imageScale, long seed, int numImages,
            Optional<String> scheduler, Optional<AutoLayout> autoLayout, Optional<Latents> initLatents) {
        this(prompt, negativePrompt, subjects, controls, width, height, steps, guidanceScale, imageScale, seed,
                numImages, scheduler, Map.of(), autoLayout, initLatents, Optional.empty(), Optional.empty(),
                Optional.empty());
    }

    /**
     * The steps the scheduler takes: {@link #steps()}, or of a run from an init image its last
     * {@link InitImage#stepsTaken}.
     */
    public int stepsTaken() {
        return initImage.map(i -> i.stepsTaken(steps)).orElse(steps);
    }

    /** Whether classifier-free guidance runs (an unconditional pass per step). */
    public boolean guidanceEnabled() {
        return guidanceScale > 1;
    }

    /** The image-attention scale of each subject: its own when set, else {@link #imageScale()}. */
    public double[] subjectScales() {
        return subjects.stream().mapToDouble(s -> s.scale().orElse(imageScale)).toArray();
    }

    /** A builder with MS-Diffusion's inference defaults (1024², 30 steps, CFG 7.5, scale 0.6, seed 0). */
    public static Builder builder(String prompt) {
        return new Builder(prompt);
    }

    /** A builder starting from this request's values. */
    public Builder toBuilder() {
        Builder b = new Builder(prompt);
        b.negativePrompt = negativePrompt;
        b.subjects.addAll(subjects);
        b.controls.addAll(controls);
        b.width = width;
        b.height = height;
        b.steps = steps;
        b.guidanceScale = guidanceScale;
        b.imageScale = imageScale;
        b.seed = seed;
        b.numImages = numImages;
        b.scheduler = scheduler.orElse(null);
        b.schedulerOptions.putAll(schedulerOptions);
        b.autoLayout = autoLayout.orElse(null);
        b.initLatents = initLatents.orElse(null);
        b.initImage = initImage.orElse(null);
        b.hires = hires.orElse(null);
        b.variation = variation.orElse(null);
        b.guidanceRescale = guidanceRescale;
        b.perturbedAttention = perturbedAttention.orElse(null);
        b.seedResizeFrom = seedResizeFrom.orElse(null);
        return b;
    }

    /** Mutable builder; {@link #build()} validates. */
    public static final class Builder {
        private String prompt;
        private String negativePrompt = DEFAULT_NEGATIVE_PROMPT;
        private final List<Subject> subjects = new ArrayList<>();
        private final List<Control> controls = new ArrayList<>();
        private int width = 1024;
        private int height = 1024;
        private int steps = 30;
        private double guidanceScale = 7.5;
        private double imageScale = 0.6;
        private long seed;
        private int numImages = 1;
        private String scheduler;
        private final Map<String, String> schedulerOptions = new LinkedHashMap<>();
        private AutoLayout autoLayout;
        private Latents initLatents;
        private InitImage initImage;
        private Hires hires;
        private Variation variation;
        private double guidanceRescale;
        private PerturbedAttention perturbedAttention;
        private SeedResize seedResizeFrom;

        private Builder(String prompt) {
            this.prompt = prompt;
        }

        /** Replaces the prompt the builder was started with. */
        public Builder prompt(String v) {
            prompt = v;
            return this;
        }

        public Builder negativePrompt(String v) {
            negativePrompt = v;
            return this;
        }

        public Builder subject(Subject s) {
            subjects.add(s);
            return this;
        }

        public Builder subjects(List<Subject> s) {
            subjects.clear();
            subjects.addAll(s);
            return this;
        }

        public Builder control(Control c) {
            controls.add(c);
            return this;
        }

        public Builder size(int w, int h) {
            width = w;
            height = h;
            return this;
        }

        public Builder steps(int v) {
            steps = v;
            return this;
        }

        public Builder guidanceScale(double v) {
            guidanceScale = v;
            return this;
        }

        public Builder imageScale(double v) {
            imageScale = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder numImages(int v) {
            numImages = v;
            return this;
        }

        public Builder scheduler(String id) {
            scheduler = id;
            return this;
        }

        /** Sets one of the scheduler's settings for this request (a null value removes it). */
        public Builder schedulerOption(String name, String value) {
            if (value == null) {
                schedulerOptions.remove(name);
            } else {
                schedulerOptions.put(name, value);
            }
            return this;
        }

        /** Replaces the scheduler's settings for this request. */
        public Builder schedulerOptions(Map<String, String> options) {
            schedulerOptions.clear();
            schedulerOptions.putAll(options);
            return this;
        }

        public Builder autoLayout(AutoLayout v) {
            autoLayout = v;
            return this;
        }

        public Builder initLatents(Latents v) {
            initLatents = v;
            return this;
        }

        /** The picture to start from, or null to start from noise. */
        public Builder initImage(InitImage v) {
            initImage = v;
            return this;
        }

        /** A second pass at a larger size, or null for one pass. */
        public Builder hires(Hires v) {
            hires = v;
            return this;
        }

        /** A variation of the starting noise towards another seed's, or null for none. */
        public Builder variation(Variation v) {
            variation = v;
            return this;
        }

        /** φ of diffusers' {@code guidance_rescale}, 0 for none. */
        public Builder guidanceRescale(double v) {
            guidanceRescale = v;
            return this;
        }

        /** Perturbed-attention guidance, or null for none. */
        public Builder perturbedAttention(PerturbedAttention v) {
            perturbedAttention = v;
            return this;
        }

        /** The size whose starting noise the request keeps in its middle, or null for its own. */
        public Builder seedResizeFrom(SeedResize v) {
            seedResizeFrom = v;
            return this;
        }

        /**
         * @throws InvalidRequestException listing every invalid field
         */
        public GenerationRequest build() {
            return new GenerationRequest(prompt, negativePrompt, subjects, controls, width, height, steps,
                    guidanceScale, imageScale, seed, numImages, Optional.ofNullable(scheduler), schedulerOptions,
                    Optional.ofNullable(autoLayout), Optional.ofNullable(initLatents), Optional.ofNullable(initImage),
                    Optional.ofNullable(hires), Optional.ofNullable(variation), guidanceRescale,
                    Optional.ofNullable(perturbedAttention), Optional.ofNullable(seedResizeFrom));
        }
    }
}

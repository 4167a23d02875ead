package dev.montage.dist.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.montage.api.AutoLayout;
import dev.montage.api.Box;
import dev.montage.api.Control;
import dev.montage.api.ControlData;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.SeedResize;
import dev.montage.api.Subject;
import dev.montage.api.Variation;
import dev.montage.api.spi.Suggestions;
import dev.montage.dist.record.GenerationRecord;
import dev.montage.dist.record.ModelHashes;
import dev.montage.runtime.pipeline.ControlNets;
import dev.montage.runtime.pipeline.Lora;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.SubjectFields;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JSON body of {@code POST /v1/generations} turned into a {@link GenerationRequest}, every invalid field
 * reported at once under the path a client wrote ({@code subjects[1].box}), and the effective parameters of a
 * request written back in the same names.
 *
 * <p>The request's own rules (sizes multiple of 8, guidance &ge; 1, ...) stay in {@link GenerationRequest},
 * {@link Box}, {@link AutoLayout} and {@link Control}; this class adds the JSON types, the server's bounds, the
 * pictures and the ids this server knows (schedulers, uploads), and its ControlNets check the controls.
 */
public final class RequestJson {
    /** The fields a request body, a subject, a control and an auto layout accept (the OpenAPI schemas list them). */
    static final Set<String> TOP = Set.of("prompt", "negativePrompt", "subjects", "controls", "width",
            "height", "steps", "guidance", "guidanceRescale", "scale", "seed", "scheduler", "schedulerOptions",
            "count", "autoLayout", "initImage", "hires", "variation", "perturbedAttention", "seedResizeFrom", "loras",
            GenerationRecord.MONTAGE);
    static final Set<String> SUBJECT = Set.of("image", "uploadId", "phrase", "box", "scale", "dropGrounding",
            GenerationRecord.SHA256, GenerationRecord.FILE);
    static final Set<String> CONTROL = Set.of("type", "image", "uploadId", "keypoints", "scale", "start",
            "end", "options", GenerationRecord.SHA256, GenerationRecord.FILE);
    static final Set<String> AUTO_LAYOUT = Set.of("threshold", "startStep");
    static final Set<String> INIT_IMAGE = Set.of("image", "uploadId", "strength", "mask", GenerationRecord.SHA256,
            GenerationRecord.FILE);
    static final Set<String> VARIATION = Set.of("seed", "strength");
    static final Set<String> PERTURBED_ATTENTION = Set.of("scale", "adaptiveScale", "layers");
    static final Set<String> SEED_RESIZE = Set.of("width", "height");
    static final Set<String> HIRES = Set.of("scale", "width", "height", "strength", "steps", "upscaler", "scheduler",
            "schedulerOptions", "guidance", "prompt", "negativePrompt");
    static final Set<String> MASK = Set.of("image", "uploadId", GenerationRecord.SHA256, GenerationRecord.FILE);
    static final Set<String> LORA = Set.of("name", "scale", GenerationRecord.SHA256, GenerationRecord.FILE);
    /** The fields of {@code POST /v1/phrases} and {@code POST /v1/preprocess} (a control and the output size). */
    static final Set<String> PHRASES = Set.of("prompt", "phrases");
    static final Set<String> PREPROCESS_SIZE = Set.of("width", "height");
    /** {@link GenerationRequest}'s field names where the API names them differently. */
    private static final Map<String, String> API_NAMES = Map.of("guidanceScale", "guidance", "imageScale", "scale",
            "numImages", "count");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern DATA_URL = Pattern.compile("^data:[^,;]*(;[^,;]*)*;base64,");
    private static final Pattern NAMED_FIELD = Pattern.compile("^\\w+\\.(\\w+) ");
    /** Seeds drawn for requests without one stay below 2^53, so JavaScript clients can repeat them exactly. */
    private static final long SEED_BOUND = 1L << 53;

    /**
     * A valid request with its effective parameters.
     *
     * @param request    what the pipeline runs
     * @param loras      the LoRAs it runs with, in the order named
     * @param parameters the same in the API's names (defaults and the drawn seed filled in), for clients
     */
    public record Parsed(GenerationRequest request, List<Lora> loras, Map<String, Object> parameters) {
    }

    /** What is wrong with a request's scheduler id and settings, as {@link MontagePipeline#schedulerProblems}. */
    @FunctionalInterface
    interface SchedulerCheck {
        List<FieldError> problems(String id, Map<String, String> options);
    }

    /** A prompt and the phrases to look for in it. */
    record PhraseQuery(String prompt, List<String> phrases) {
    }

    /** A control and the size of the generation whose conditioning picture it is to become. */
    record Preprocess(Control control, int width, int height) {
    }

    private final ServerSettings limits;
    private final GenerationRequest defaults;
    private final SchedulerCheck schedulers;
    private final Function<GenerationRequest, List<FieldError>> components;
    private final String defaultScheduler;
    private final ControlNets controlNets;
    private final Optional<SubjectFields> subjectFields;
    private final PictureReferences pictures;
    private final LoraCatalog loraCatalog;
    private final LongSupplier seeds;

    /**
     * @param defaults values of the fields a request leaves out (its prompt and seed are not used)
     * @param schedulers checks the scheduler id and settings of a request
     * @param components what the pipeline's components refuse in a request, as
     *                 {@link MontagePipeline#requestProblems} says it
     * @param subjectFields what the pipeline's subject adapter reads; empty when it takes no subjects
     * @param pictures where pictures given by name (not inline) come from
     * @param loraCatalog the LoRAs requests may name
     * @param seeds    where seeds of requests without one come from
     */
    RequestJson(ServerSettings limits, GenerationRequest defaults, SchedulerCheck schedulers,
            Function<GenerationRequest, List<FieldError>> components, String defaultScheduler,
            ControlNets controlNets, Optional<SubjectFields> subjectFields, PictureReferences pictures,
            LoraCatalog loraCatalog, LongSupplier seeds) {
        this.limits = limits;
        this.defaults = defaults;
        this.schedulers = schedulers;
        this.components = components;
        this.defaultScheduler = defaultScheduler;
        this.controlNets = controlNets;
        this.subjectFields = subjectFields;
        this.pictures = pictures;
        this.loraCatalog = loraCatalog;
        this.seeds = seeds;
    }

    /**
     * Requests to run on a pipeline outside the server (a batch job): the pipeline's defaults, schedulers, ControlNets
     * and subject adapter, the given bounds, pictures inline or by reference, no LoRAs. A request without a seed
     * gets a random one: a caller that wants repeatable results gives every request its seed.
     */
    public static RequestJson forPipeline(MontagePipeline pipeline, ServerSettings limits,
            PictureReferences pictures) {
        return new RequestJson(limits, pipeline.request("").build(), pipeline::schedulerProblems,
                pipeline::requestProblems,
                pipeline.defaultSchedulerId(), pipeline.controlNets(), pipeline.subjectFields(), pictures,
                new LoraCatalog(Optional.empty(), "LoRAs are not taken per request here: the profile's models.loras "
                        + "apply to every request"), new SecureRandom()::nextLong);
    }

    /**
     * @throws InvalidRequestException listing every invalid field
     * @throws ApiException            413 for a picture over the size limits
     * @throws IOException             when an upload cannot be read
     */
    public Parsed parse(JsonNode body) throws IOException {
        Fields f = new Fields();
        if (body == null || !body.isObject()) {
            throw new InvalidRequestException(List.of(new FieldError("body", "must be a JSON object")));
        }
        f.unknownKeys(body, "", TOP);
        String prompt = f.text(body, "prompt", "");
        String negative = orElse(f.text(body, "negativePrompt", ""), defaults.negativePrompt());
        int width = orElse(f.integer(body, "width", ""), defaults.width());
        int height = orElse(f.integer(body, "height", ""), defaults.height());
        int steps = orElse(f.integer(body, "steps", ""), defaults.steps());
        int count = orElse(f.integer(body, "count", ""), defaults.numImages());
        double guidance = orElse(f.number(body, "guidance", ""), defaults.guidanceScale());
        // the profile's default rescale applies to guided requests only
        double guidanceRescale = orElse(f.number(body, "guidanceRescale", ""), guidance > 1
                ? defaults.guidanceRescale() : 0.0);
        double scale = orElse(f.number(body, "scale", ""), defaults.imageScale());
        Long givenSeed = f.int64(body, "seed", "");
        long seed = givenSeed != null ? givenSeed : Math.floorMod(seeds.getAsLong(), SEED_BOUND);
        String scheduler = orElse(f.text(body, "scheduler", ""), defaultScheduler);
        Map<String, String> schedulerOptions = f.settings(body, "schedulerOptions", "");
        if (f.clean("scheduler") && f.clean("schedulerOptions")) {
            schedulers.problems(scheduler, schedulerOptions).forEach(e -> f.add(e.field(), e.message()));
        }
        AutoLayout autoLayout = autoLayout(f, body.get("autoLayout"));
        // counted before any picture is decoded: each may take up to the per-picture pixel limit
        List<JsonNode> subjectNodes = f.array(body, "subjects", limits.maxSubjects());
        List<JsonNode> controlNodes = f.array(body, "controls", limits.maxControls());
        List<JsonNode> loraNodes = f.array(body, "loras", limits.maxLoras());
        ImageInput.PixelBudget pixels = new ImageInput.PixelBudget(limits.maxImagePixels(),
                limits.maxRequestPixels());
        List<Subject> subjects = new ArrayList<>();
        List<Map<String, Object>> subjectSources = new ArrayList<>();
        for (JsonNode node : subjectNodes) {
            subjects.add(subject(f, node, "subjects[" + subjects.size() + "]", pixels, subjectSources));
        }
        subjectFields.flatMap(s -> s.autoLayoutProblem(!subjects.isEmpty(), autoLayout != null))
                .ifPresent(e -> f.add(e.field(), e.message()));
        List<Control> controls = new ArrayList<>();
        List<Map<String, Object>> controlSources = new ArrayList<>();
        for (JsonNode node : controlNodes) {
            controls.add(control(f, node, "controls[" + controls.size() + "]", pixels, controlSources));
        }
        Map<String, Object> initImageSource = new LinkedHashMap<>();
        InitImage initImage = body.hasNonNull("initImage") ? initImage(f, body.get("initImage"), pixels,
                initImageSource) : null;
        Hires hires = body.hasNonNull("hires") ? hires(f, body.get("hires"), width, height) : null;
        Variation variation = body.hasNonNull("variation") ? variation(f, body.get("variation")) : null;
        PerturbedAttention perturbed = body.hasNonNull("perturbedAttention") ? perturbedAttention(f,
                body.get("perturbedAttention")) : null;
        SeedResize seedResize = body.hasNonNull("seedResizeFrom") ? seedResize(f, body.get("seedResizeFrom")) : null;
        Map<String, Lora> loras = new LinkedHashMap<>();
        for (int i = 0; i < loraNodes.size(); i++) {
            lora(f, loraNodes.get(i), "loras[" + i + "]", loras);
        }
        try {
            // the request's own rules, on everything but the subjects and controls checked above
            new GenerationRequest(prompt, negative, List.of(), List.of(), width, height, steps, guidance, scale, seed,
                    count, Optional.of(scheduler), schedulerOptions, Optional.ofNullable(autoLayout),
                    Optional.empty(), Optional.ofNullable(initImage), Optional.ofNullable(hires),
                    Optional.ofNullable(variation), guidanceRescale, Optional.ofNullable(perturbed),
                    Optional.ofNullable(seedResize));
        } catch (InvalidRequestException e) {
            e.errors().forEach(err -> f.add(API_NAMES.getOrDefault(err.field(), err.field()), err.message()));
        }
        f.atMost("width", width, limits.maxWidth());
        f.atMost("height", height, limits.maxHeight());
        f.atMost("steps", steps, limits.maxSteps());
        f.atMost("count", count, limits.maxImages());
        if (hires != null) {
            f.atMost("hires.width", hires.width(), limits.maxWidth());
            f.atMost("hires.height", hires.height(), limits.maxHeight());
            f.atMost("hires.steps", hires.steps(), limits.maxSteps());
        }
        int outputWidth = hires != null ? hires.width() : width;
        int outputHeight = hires != null ? hires.height() : height;
        long outputPixels = (long) outputWidth * outputHeight * count;
        if (outputPixels > limits.maxOutputPixels()) {
            f.add("count", (hires != null ? "hires.width x hires.height" : "width x height") + " x count is "
                    + outputWidth + " x " + outputHeight + " x " + count + " = " + outputPixels
                    + " pixels, more than the limit of " + limits.maxOutputPixels() + " on this server");
        }
        if (!f.errors.isEmpty()) {
            throw new InvalidRequestException(new ArrayList<>(f.errors.values()));
        }
        GenerationRequest request = new GenerationRequest(prompt, negative, subjects, controls, width, height, steps,
                guidance, scale, seed, count, Optional.of(scheduler), schedulerOptions, Optional.ofNullable(autoLayout),
                Optional.empty(), Optional.ofNullable(initImage), Optional.ofNullable(hires),
                Optional.ofNullable(variation), guidanceRescale, Optional.ofNullable(perturbed),
                Optional.ofNullable(seedResize));
        List<FieldError> refused = components.apply(request);
        if (!refused.isEmpty()) {
            throw new InvalidRequestException(refused);
        }
        List<Map<String, Object>> named = new ArrayList<>();
        loras.forEach((name, lora) -> named.add(Job.ordered("name", name, "scale", lora.scale())));
        return new Parsed(request, List.copyOf(loras.values()),
                GenerationRecord.request(request, subjectSources, controlSources, initImageSource, named));
    }

    /**
     * The body of {@code POST /v1/phrases}: a prompt and at most {@link ServerSettings#maxSubjects()} phrases, as
     * long as a request's.
     *
     * @throws InvalidRequestException listing every invalid field
     */
    PhraseQuery phrases(JsonNode body) {
        Fields f = new Fields();
        if (body == null || !body.isObject()) {
            throw new InvalidRequestException(List.of(new FieldError("body", "must be a JSON object")));
        }
        f.unknownKeys(body, "", PHRASES);
        String prompt = f.text(body, "prompt", "");
        if (prompt == null && !f.errors.containsKey("prompt")) {
            f.add("prompt", "is required: the prompt to look for the phrases in");
        } else if (prompt != null && prompt.length() > GenerationRequest.MAX_TEXT_LENGTH) {
            f.add("prompt", "must be at most " + GenerationRequest.MAX_TEXT_LENGTH + " characters, got "
                    + prompt.length());
        }
        List<String> phrases = new ArrayList<>();
        List<JsonNode> nodes = f.array(body, "phrases", limits.maxSubjects());
        for (int i = 0; i < nodes.size(); i++) {
            String field = "phrases[" + i + "]";
            JsonNode node = nodes.get(i);
            if (!node.isTextual()) {
                f.add(field, "must be a string, got " + node);
            } else if (node.asText().length() > GenerationRequest.MAX_PHRASE_LENGTH) {
                f.add(field, "must be at most " + GenerationRequest.MAX_PHRASE_LENGTH + " characters, got "
                        + node.asText().length());
            } else {
                phrases.add(node.asText());
            }
        }
        if (!f.errors.isEmpty()) {
            throw new InvalidRequestException(new ArrayList<>(f.errors.values()));
        }
        return new PhraseQuery(prompt, List.copyOf(phrases));
    }

    /**
     * The body of {@code POST /v1/preprocess}: a control as a request gives one, its fields at the top level, and the
     * {@code width} and {@code height} of the generation (the served defaults when left out) within the server's
     * bounds.
     *
     * @throws InvalidRequestException listing every invalid field
     * @throws ApiException            413 for a picture over the size limits
     * @throws IOException             when an upload cannot be read
     */
    Preprocess preprocess(JsonNode body) throws IOException {
        Fields f = new Fields();
        if (body == null || !body.isObject()) {
            throw new InvalidRequestException(List.of(new FieldError("body", "must be a JSON object")));
        }
        Control control = control(f, ((ObjectNode) body.deepCopy()).without(PREPROCESS_SIZE), "",
                new ImageInput.PixelBudget(limits.maxImagePixels(), limits.maxRequestPixels()), new ArrayList<>());
        int width = orElse(f.integer(body, "width", ""), defaults.width());
        int height = orElse(f.integer(body, "height", ""), defaults.height());
        try {
            GenerationRequest.builder("").size(width, height).build();
        } catch (InvalidRequestException e) {
            e.errors().forEach(err -> f.add(err.field(), err.message()));
        }
        f.atMost("width", width, limits.maxWidth());
        f.atMost("height", height, limits.maxHeight());
        if (!f.errors.isEmpty()) {
            throw new InvalidRequestException(new ArrayList<>(f.errors.values()));
        }
        return new Preprocess(control, width, height);
    }

    /** A LoRA {@code {name, scale}} of a request, by the name it was given (without the extension). */
    /** A base64 text without a data URL's prefix and without whitespace. */
    static String base64Text(String data) {
        return DATA_URL.matcher(data).replaceFirst("").replaceAll("\\s", "");
    }

    /** Whether a request may name this LoRA: a file of that name is in the server's LoRA folder. */
    boolean servesLora(String name) {
        return loraCatalog.names().contains(LoraCatalog.nameOf(name));
    }

    private void lora(Fields f, JsonNode node, String path, Map<String, Lora> loras) {
        if (!f.object(node, path, LORA, "{name, scale}")) {
            return;
        }
        String name = f.text(node, "name", path);
        double scale = orElse(f.number(node, "scale", path), Lora.DEFAULT_SCALE);
        if (!Double.isFinite(scale)) {
            f.add(path + ".scale", "must be a finite number, got " + scale);
        }
        if (name == null) {
            f.add(path + ".name", "is required: the name of one of the server's LoRAs");
            return;
        }
        Path file;
        try {
            file = loraCatalog.resolve(name);
        } catch (IllegalArgumentException e) {
            f.add(path + ".name", e.getMessage());
            return;
        }
        String key = LoraCatalog.nameOf(name);
        if (loras.containsKey(key)) {
            f.add(path + ".name", "LoRA '" + key + "' is named twice; name it once with the scale it should have");
        } else if (f.clean(path)) {
            loras.put(key, new Lora(file, scale));
        }
    }

    private AutoLayout autoLayout(Fields f, JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!f.object(node, "autoLayout", AUTO_LAYOUT, "{threshold, startStep}")) {
            return null;
        }
        Double threshold = f.number(node, "threshold", "autoLayout");
        Integer startStep = f.integer(node, "startStep", "autoLayout");
        if (threshold == null) {
            f.add("autoLayout.threshold", "is required, a number in (0, 1)");
        }
        if (startStep == null) {
            f.add("autoLayout.startStep", "is required, the first step that uses the derived masks");
        }
        if (threshold == null || startStep == null) {
            return null;
        }
        // each value checked with a valid partner, so both are reported when both are wrong
        boolean valid = f.accepts("autoLayout.threshold", () -> new AutoLayout(threshold, 0))
                & f.accepts("autoLayout.startStep", () -> new AutoLayout(0.5, startStep));
        return valid ? new AutoLayout(threshold, startStep) : null;
    }

    private Subject subject(Fields f, JsonNode node, String path, ImageInput.PixelBudget pixels,
            List<Map<String, Object>> sources) throws IOException {
        if (!f.object(node, path, SUBJECT, "{image | uploadId, phrase, box, scale, dropGrounding}")) {
            return null;
        }
        Picture picture = picture(f, node, path, "image (base64 PNG, JPEG or WebP) and " + pictures.field(),
                pixels);
        String phrase = f.text(node, "phrase", path);
        if (phrase != null && phrase.isBlank()) {
            f.add(path + ".phrase", "is blank: give the words that name the subject in the prompt, or leave it out "
                    + "for an adapter that reads no phrases");
        }
        Box box = box(f, node.get("box"), path + ".box");
        Double scale = f.number(node, "scale", path);
        if (scale != null && !(scale >= 0 && Double.isFinite(scale))) {
            f.add(path + ".scale", "must be a finite number >= 0, got " + scale);
        }
        Boolean drop = f.bool(node, "dropGrounding", path);
        if (picture == null || !f.clean(path)) {
            return null;
        }
        sources.add(picture.source());
        Subject subject = new Subject(picture.image(), picture.name(), phrase, box,
                scale == null ? OptionalDouble.empty() : OptionalDouble.of(scale), Boolean.TRUE.equals(drop));
        subjectFields.ifPresent(s -> s.problems(subject, path).forEach(e -> f.add(e.field(), e.message())));
        return subject;
    }

    /**
     * The picture a generation starts from, its strength (by default {@link InitImage#defaultStrength}) and the mask
     * of where it is repainted, if any.
     *
     * @param source receives how a request gives the pictures again
     */
    private InitImage initImage(Fields f, JsonNode node, ImageInput.PixelBudget pixels, Map<String, Object> source)
            throws IOException {
        String path = "initImage";
        if (!f.object(node, path, INIT_IMAGE, "{image | uploadId, strength, mask}")) {
            return null;
        }
        String choices = "image (base64 PNG, JPEG or WebP) and " + pictures.field();
        Picture picture = picture(f, node, path, choices, pixels);
        Double strength = f.number(node, "strength", path);
        Picture mask = null;
        JsonNode maskNode = node.get("mask");
        if (maskNode != null && !maskNode.isNull()) {
            String maskPath = path + ".mask";
            if (f.object(maskNode, maskPath, MASK, "{image | uploadId}: white where the picture is repainted")) {
                mask = picture(f, maskNode, maskPath, choices, pixels);
            }
        }
        if (picture == null || !f.clean(path)) {
            return null;
        }
        try {
            InitImage init = new InitImage(picture.image(), picture.name(), strength == null
                    ? InitImage.defaultStrength(mask != null) : strength);
            source.putAll(picture.source());
            if (mask != null) {
                init = init.withMask(mask.image(), mask.name());
                source.put("mask", mask.source());
            }
            return init;
        } catch (IllegalArgumentException e) {
            f.add(path + ".strength", e.getMessage());
            return null;
        }
    }

    /**
     * A second pass at a larger size: {@code scale} or {@code width} and {@code height}, with A1111's defaults for the
     * rest ({@link Hires#of}).
     */
    private Hires hires(Fields f, JsonNode node, int width, int height) {
        String path = "hires";
        if (!f.object(node, path, HIRES, "{scale | width and height, strength, steps, upscaler, scheduler, "
                + "schedulerOptions, guidance, prompt, negativePrompt}")) {
            return null;
        }
        Double scale = f.number(node, "scale", path);
        Integer w = f.integer(node, "width", path);
        Integer h = f.integer(node, "height", path);
        Double strength = f.number(node, "strength", path);
        Integer steps = f.integer(node, "steps", path);
        String upscaler = f.text(node, "upscaler", path);
        String scheduler = f.text(node, "scheduler", path);
        Map<String, String> schedulerOptions = f.settings(node, "schedulerOptions", path);
        Double guidance = f.number(node, "guidance", path);
        String hiresPrompt = f.text(node, "prompt", path);
        String hiresNegative = f.text(node, "negativePrompt", path);
        if (!f.clean(path)) {
            return null;
        }
        if (scheduler != null) {
            schedulers.problems(scheduler, schedulerOptions).forEach(e -> f.add(path + "." + e.field(),
                    e.message()));
        }
        try {
            return Hires.of(scale, w, h, strength, steps, upscaler, width, height)
                    .withScheduler(scheduler, schedulerOptions).withGuidance(guidance == null ? 0 : guidance)
                    .withPrompts(hiresPrompt, hiresNegative);
        } catch (IllegalArgumentException e) {
            f.add(e.getMessage().substring(0, e.getMessage().indexOf(' ')), e.getMessage());
            return null;
        }
    }

    /** A variation of the starting noise: the variation seed and the strength, both required. */
    private static Variation variation(Fields f, JsonNode node) {
        String path = "variation";
        if (!f.object(node, path, VARIATION, "{seed, strength}")) {
            return null;
        }
        Long seed = f.required(f.int64(node, "seed", path), path + ".seed",
                "the seed whose starting noise the variation goes towards");
        Double strength = f.required(f.number(node, "strength", path), path + ".strength",
                "how far towards the variation seed's noise, in [0, 1]");
        return f.made(path, path + ".strength", () -> new Variation(seed, strength));
    }

    /** The size a seed's noise is drawn at: its width and height, both required. */
    private static SeedResize seedResize(Fields f, JsonNode node) {
        String path = "seedResizeFrom";
        if (!f.object(node, path, SEED_RESIZE, "{width, height}")) {
            return null;
        }
        Integer width = f.required(f.integer(node, "width", path), path + ".width",
                "the width the seed's noise is drawn at");
        Integer height = f.required(f.integer(node, "height", path), path + ".height",
                "the height the seed's noise is drawn at");
        return f.made(path, path, () -> new SeedResize(width, height));
    }

    /** Perturbed-attention guidance: its scale required, the adaptive scale and the layer patterns optional. */
    private static PerturbedAttention perturbedAttention(Fields f, JsonNode node) {
        String path = "perturbedAttention";
        if (!f.object(node, path, PERTURBED_ATTENTION, "{scale, adaptiveScale, layers}")) {
            return null;
        }
        Double scale = f.required(f.number(node, "scale", path), path + ".scale",
                "how far each step moves away from the perturbed prediction, > 0");
        Double adaptive = f.number(node, "adaptiveScale", path);
        List<String> layers = new ArrayList<>();
        JsonNode given = node.get("layers");
        if (given != null && !given.isNull()) {
            if (!given.isArray()) {
                f.add(path + ".layers", "must be an array of regular expressions, each found in the names of the "
                        + "self-attention layers it perturbs");
            } else if (given.size() > PerturbedAttention.MAX_LAYERS) {
                f.add(path + ".layers", "must be at most " + PerturbedAttention.MAX_LAYERS + " patterns, got "
                        + given.size());
            } else {
                for (int i = 0; i < given.size(); i++) {
                    if (given.get(i).isTextual()) {
                        layers.add(given.get(i).asText());
                    } else {
                        f.add(path + ".layers[" + i + "]", "must be a string, got " + given.get(i));
                    }
                }
            }
        }
        if (!f.clean(path)) {
            return null;
        }
        try {
            return new PerturbedAttention(scale, adaptive == null ? 0 : adaptive, layers);
        } catch (InvalidRequestException e) {
            e.errors().forEach(err -> f.add(err.field(), err.message()));
            return null;
        }
    }

    private static Box box(Fields f, JsonNode node, String path) {
        if (node == null || node.isNull()) {
            return Box.NONE;
        }
        if (!node.isArray() || node.size() != 4 || !allNumbers(node)) {
            f.add(path, "must be four numbers [x0, y0, x1, y1] in 0..1");
            return null;
        }
        try {
            return new Box(node.get(0).asDouble(), node.get(1).asDouble(), node.get(2).asDouble(),
                    node.get(3).asDouble());
        } catch (IllegalArgumentException e) {
            f.add(path, e.getMessage());
            return null;
        }
    }

    private Control control(Fields f, JsonNode node, String path, ImageInput.PixelBudget pixels,
            List<Map<String, Object>> sources) throws IOException {
        if (!f.object(node, path, CONTROL, "{type, image | uploadId | keypoints, scale, start, end, options}")) {
            return null;
        }
        String type = f.text(node, "type", path);
        if (type == null) {
            f.add(path + ".type", "is required, e.g. canny, depth or pose");
        }
        byte[] keypoints = null;
        Picture picture = null;
        if (node.hasNonNull("keypoints")) {
            keypoints = keypoints(f, node, path);
        } else {
            picture = picture(f, node, path, "image (base64 PNG, JPEG or WebP), " + pictures.field()
                    + " and keypoints (OpenPose JSON)", pixels);
        }
        double scale = orElse(f.number(node, "scale", path), 1.0);
        double start = orElse(f.number(node, "start", path), 0.0);
        double end = orElse(f.number(node, "end", path), 1.0);
        Map<String, String> options = f.settings(node, "options", path);
        if (keypoints != null && "none".equals(options.get(Control.PREPROCESS_OPTION))) {
            f.add(path + ".keypoints", "is rendered by the type's preprocessor, which options.preprocess=none turns "
                    + "off (none is for a ready-made control image)");
        }
        if ((picture == null && keypoints == null) || !f.clean(path)) {
            return null;
        }
        Control control;
        try {
            control = Control.fromRequestOptions(type, picture == null ? null : picture.image(),
                    keypoints == null ? null : new ControlData(keypoints, path + ".keypoints"), scale, start, end,
                    options);
        } catch (IllegalArgumentException e) {
            Matcher m = NAMED_FIELD.matcher(e.getMessage());
            f.add(m.find() ? path + "." + m.group(1) : path, e.getMessage());
            return null;
        }
        List<FieldError> problems = controlNets.problems(control, path);
        problems.forEach(e -> f.add(e.field(), e.message()));
        sources.add(picture != null ? picture.source() : Map.of("keypoints", JSON.convertValue(node.get("keypoints"),
                Object.class)));
        return problems.isEmpty() ? control : null;
    }

    /**
     * A control's {@code keypoints}: OpenPose JSON written inline as an object, handed to the condition plugin as
     * the file it would otherwise read (the plugin checks the keypoints and names this field in its errors).
     */
    private byte[] keypoints(Fields f, JsonNode node, String path) {
        String field = path + ".keypoints";
        if (node.hasNonNull("image") || node.hasNonNull(pictures.field())) {
            f.add(field, "give exactly one of image, " + pictures.field() + " and keypoints");
            return null;
        }
        JsonNode keypoints = node.get("keypoints");
        if (!keypoints.isObject()) {
            f.add(field, "must be OpenPose JSON as an object {\"people\": [{\"pose_keypoints_2d\": [...]}], ...}");
            return null;
        }
        return keypoints.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * A decoded picture, the name it goes by in messages and how a request gives it again (its upload id, the
     * SHA-256 of its bytes).
     */
    private record Picture(BufferedImage image, String name, Map<String, Object> source) {
    }

    /**
     * The {@code image} (base64, optionally a data URL) or the reference ({@code uploadId}, {@code file}: see
     * {@link PictureReferences}) of a subject or control, which must have
     * the {@code sha256} the object gives, if any.
     *
     * @param choices the inputs the object may be given as, for the message when it has none or both
     * @param pixels  the pixels left to the request
     */
    private Picture picture(Fields f, JsonNode node, String path, String choices, ImageInput.PixelBudget pixels)
            throws IOException {
        boolean inline = node.hasNonNull("image");
        String reference = pictures.field();
        if (inline == node.hasNonNull(reference)) {
            f.add(path + ".image", "give exactly one of " + choices);
            return null;
        }
        String field;
        byte[] bytes;
        Map<String, Object> source = new LinkedHashMap<>();
        if (!inline) {
            field = Fields.join(path, reference);
            String name = f.text(node, reference, path);
            Optional<PictureReferences.Found> found = name == null ? Optional.empty() : pictures.find(name);
            if (name != null && found.isEmpty()) {
                f.add(field, pictures.unknown(name));
            }
            if (found.isEmpty()) {
                return null;
            }
            bytes = found.get().bytes();
            source.put(reference, found.get().recorded());
        } else {
            field = Fields.join(path, "image");
            String data = f.text(node, "image", path);
            if (data == null) {
                return null;
            }
            data = base64Text(data);
            if ((long) data.length() / 4 * 3 > limits.maxImageBytes()) {
                throw ApiException.tooLarge(field, "is about " + data.length() / 4 * 3 + " bytes, more than the limit "
                        + "of " + limits.maxImageBytes() + "; upload it with POST /v1/uploads only if it fits");
            }
            try {
                bytes = Base64.getDecoder().decode(data);
            } catch (IllegalArgumentException e) {
                f.add(field, "is not base64: " + e.getMessage());
                return null;
            }
        }
        String sha256 = ModelHashes.sha256(bytes);
        String expected = f.text(node, GenerationRecord.SHA256, path);
        if (expected != null && !expected.equalsIgnoreCase(sha256)) {
            f.add(path + "." + GenerationRecord.SHA256, "is " + expected + " but the picture given in " + field
                    + " has the SHA-256 " + sha256 + "; give the picture the request was made with");
            return null;
        }
        source.put(GenerationRecord.SHA256, sha256);
        try {
            return new Picture(ImageInput.decode(bytes, field, pixels), inline ? "inline:" + path
                    : reference + ":" + source.get(reference), Collections.unmodifiableMap(source));
        } catch (IllegalArgumentException e) {
            f.add(field, e.getMessage());
            return null;
        }
    }

    private static boolean allNumbers(JsonNode array) {
        for (JsonNode n : array) {
            if (!n.isNumber()) {
                return false;
            }
        }
        return true;
    }

    private static <T> T orElse(T value, T fallback) {
        return value != null ? value : fallback;
    }

    /**
     * Typed reads of one body. A missing or null key reads as null; a value of the wrong type is reported and also
     * reads as null, so the default stands in and the same field is not reported twice. Only the first problem
     * of each field is kept.
     */
    private static final class Fields {
        private final Map<String, FieldError> errors = new LinkedHashMap<>();

        /** A field under the empty path (a preprocess body is a control at the top level) is named bare. */
        void add(String field, String message) {
            String name = field.startsWith(".") ? field.substring(1) : field;
            errors.putIfAbsent(name, new FieldError(name, message));
        }

        /** Whether no field under {@code path} (the empty path: none at all) has been reported. */
        boolean clean(String path) {
            return path.isEmpty() ? errors.isEmpty()
                    : errors.keySet().stream().noneMatch(k -> k.equals(path) || k.startsWith(path + "."));
        }

        /** {@code value}; where it is null, that {@code field} is required, for the {@code meaning} given, reported. */
        <T> T required(T value, String field, String meaning) {
            if (value == null && clean(field)) {
                add(field, "is required: " + meaning);
            }
            return value;
        }

        /**
         * What {@code make} makes of the fields under {@code path}, or null where one of them is reported or
         * {@code make} refuses them (its message then reported under {@code field}).
         */
        <T> T made(String path, String field, Supplier<T> make) {
            if (!clean(path)) {
                return null;
            }
            try {
                return make.get();
            } catch (IllegalArgumentException e) {
                add(field, e.getMessage());
                return null;
            }
        }

        /** Whether {@code check} passes; if not, its message is reported under {@code field}. */
        boolean accepts(String field, Runnable check) {
            try {
                check.run();
                return true;
            } catch (IllegalArgumentException e) {
                add(field, e.getMessage());
                return false;
            }
        }

        void atMost(String field, long value, long max) {
            if (value > max) {
                add(field, "must be at most " + max + " on this server, got " + value);
            }
        }

        /**
         * Whether the node is an object, each key it has that is not {@code known} reported; else reports that it must
         * be one.
         *
         * @param shape the object's fields, for the message, e.g. {@code {seed, strength}}
         */
        boolean object(JsonNode node, String path, Set<String> known, String shape) {
            if (!node.isObject()) {
                add(path, "must be an object " + shape);
                return false;
            }
            unknownKeys(node, path, known);
            return true;
        }

        void unknownKeys(JsonNode node, String path, Set<String> known) {
            for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (!known.contains(key)) {
                    add(join(path, key), "is not a known field; expected " + new TreeSet<>(known));
                }
            }
        }

        /**
         * An object of settings by name, each a string, number or boolean, as text; empty when absent.
         */
        Map<String, String> settings(JsonNode node, String key, String path) {
            Map<String, String> settings = new LinkedHashMap<>();
            JsonNode given = node.get(key);
            String field = path.isEmpty() ? key : path + "." + key;
            if (given == null || given.isNull()) {
                return settings;
            }
            if (!given.isObject()) {
                add(field, "must be an object of settings by name (strings, numbers or booleans), got " + given);
                return settings;
            }
            given.fields().forEachRemaining(e -> {
                if (e.getValue().isValueNode() && !e.getValue().isNull()) {
                    settings.put(e.getKey(), e.getValue().asText());
                } else {
                    add(field + "." + e.getKey(), "must be a string, number or boolean, got " + e.getValue());
                }
            });
            return settings;
        }

        String text(JsonNode node, String key, String path) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isTextual()) {
                add(join(path, key), "must be a string");
                return null;
            }
            return v.asText();
        }

        Integer integer(JsonNode node, String key, String path) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                add(join(path, key), "must be a whole number, got " + v);
                return null;
            }
            return v.intValue();
        }

        Long int64(JsonNode node, String key, String path) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                add(join(path, key), "must be a whole number, got " + v);
                return null;
            }
            return v.longValue();
        }

        Double number(JsonNode node, String key, String path) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isNumber()) {
                add(join(path, key), "must be a number, got " + v);
                return null;
            }
            return v.doubleValue();
        }

        Boolean bool(JsonNode node, String key, String path) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isBoolean()) {
                add(join(path, key), "must be true or false, got " + v);
                return null;
            }
            return v.booleanValue();
        }

        /**
         * The elements of an array field of at most {@code max} elements; none when it is missing, not an array or
         * longer (then reported).
         */
        List<JsonNode> array(JsonNode node, String key, int max) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                return List.of();
            }
            if (!v.isArray()) {
                add(key, "must be an array");
                return List.of();
            }
            if (v.size() > max) {
                add(key, "has " + v.size() + " " + key + ", more than the limit of " + max + " on this server");
                return List.of();
            }
            List<JsonNode> elements = new ArrayList<>();
            v.forEach(elements::add);
            return elements;
        }

        static String join(String path, String key) {
            return path.isEmpty() ? key : path + "." + key;
        }
    }
}

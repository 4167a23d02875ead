package dev.montage.dist;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.AutoLayout;
import dev.montage.api.Box;
import dev.montage.api.Control;
import dev.montage.api.ControlData;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.SeedResize;
import dev.montage.api.Subject;
import dev.montage.api.Variation;
import dev.montage.dist.record.ComfyPrompt;
import dev.montage.dist.record.GenerationRecord;
import dev.montage.dist.record.ImportedRecord;
import dev.montage.dist.record.ModelHashes;
import dev.montage.runtime.output.PngFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeMap;

/**
 * The request a PNG records, for {@code montage generate --from}: Montage's {@code montage} chunk (the whole request
 * in the API's names), else what an AUTOMATIC1111 or ComfyUI PNG records ({@link ImportedRecord}). Pictures are taken
 * from the files the record names when their bytes still have the recorded SHA-256.
 *
 * @param png              the PNG
 * @param values           the request's fields by their API names
 * @param unmatchedSampler another tool's sampler (with its schedule) that none of Montage's schedulers is, if the PNG
 *                         names one
 * @param unapplied        another tool's settings and nodes that nothing here corresponds to ({@code Clip skip: 2}),
 *                         which the run does not apply; its model and version names are not among them
 * @param pictureStrength  the strength of a run from a picture that the PNG does not store (A1111's img2img
 *                         {@code Denoising strength}, a ComfyUI sampler's {@code denoise}): that of a picture
 *                         {@code --init-image} gives
 */
record RecordedRequest(Path png, Map<String, Object> values, Optional<String> unmatchedSampler,
        List<String> unapplied, Optional<Double> pictureStrength) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SCHEDULER_OPTIONS = "schedulerOptions";
    private static final String INIT_IMAGE = "initImage";
    private static final String MASK = "mask";
    private static final String OPTIONS = "options.";
    private static final String HIRES = "hires";
    private static final String VARIATION = "variation";
    private static final String PERTURBED_ATTENTION = "perturbedAttention";

    /**
     * @param given the request fields the command gives itself ({@code prompt}, {@code negativePrompt}), which a
     *              PNG need not record
     * @throws IllegalArgumentException when the file is no PNG with recorded parameters, or records a prompt that
     *     cannot be read and is not given
     */
    static RecordedRequest read(Path png, Set<String> given) throws IOException {
        if (!Files.isRegularFile(png)) {
            throw new IllegalArgumentException("--from " + png + " does not exist");
        }
        Map<String, String> chunks;
        try (InputStream in = Files.newInputStream(png)) {
            chunks = PngFiles.readParameters(in);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("--from " + png + " is not a PNG file that can be read", e);
        }
        Optional<Map<String, Object>> record = GenerationRecord.fromPng(chunks);
        if (record.isPresent()) {
            return new RecordedRequest(png, record.get(), Optional.empty(), List.of(), Optional.empty());
        }
        Optional<ImportedRecord> imported;
        try {
            imported = ImportedRecord.of(chunks);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--from " + png + ": " + e.getMessage(), e);
        }
        if (imported.isPresent()) {
            return imported(png, imported.get(), given);
        }
        throw new IllegalArgumentException("--from " + png + " records no generation: it has no '"
                + GenerationRecord.JSON_CHUNK + "', '" + GenerationRecord.A1111_CHUNK + "' (A1111) or '"
                + ComfyPrompt.CHUNK + "' (ComfyUI) text chunk");
    }

    /**
     * The request of another tool's PNG: a prompt that the PNG does not give stops the run, naming it and the flag that
     * gives it, unless that flag is given.
     */
    private static RecordedRequest imported(Path png, ImportedRecord r, Set<String> given) {
        r.textProblems().forEach((field, problem) -> {
            if (!given.contains(field)) {
                throw new IllegalArgumentException("--from " + png + ": " + problem + ": give it with "
                        + (field.equals("prompt") ? "--prompt" : "--negative-prompt"));
            }
        });
        return new RecordedRequest(png, r.values(), r.unmatchedSampler(), r.unapplied(), r.pictureStrength());
    }

    /**
     * The recorded hires pass with the settings given in {@code given} laid over it one by one (null for none; a
     * given scale replaces a recorded size and the other way round), for a request of this size; empty when neither
     * records nor gives one.
     *
     * @throws IllegalArgumentException whose message begins with the field it names
     */
    Optional<Hires> hires(Map<String, Object> given, int width, int height) {
        return hiresOf(hiresFields(given), width, height);
    }

    /**
     * The recorded hires pass's request fields with those given laid over them as {@link #hires} lays them; empty when
     * neither records nor gives one.
     */
    Map<String, Object> hiresFields(Map<String, Object> given) {
        Map<String, Object> h = new LinkedHashMap<>(map(values.get(HIRES)));
        if (given.get("scale") != null || given.get("width") != null) {
            h.remove("scale");
            h.remove("width");
            h.remove("height");
        }
        if (given.get("scheduler") != null && !given.get("scheduler").equals(h.get("scheduler"))) {
            // the recorded settings are those of the recorded scheduler
            h.remove(SCHEDULER_OPTIONS);
        }
        given.forEach((k, v) -> {
            if (v != null) {
                h.put(k, v);
            }
        });
        return h;
    }

    /**
     * The hires pass of a request's {@code hires} fields (null values taken as not given), for a request of this size;
     * empty where none is given.
     *
     * @throws IllegalArgumentException whose message begins with the field it names
     */
    static Optional<Hires> hiresOf(Map<String, Object> fields, int width, int height) {
        Map<String, Object> h = new LinkedHashMap<>();
        fields.forEach((k, v) -> {
            if (v != null) {
                h.put(k, v);
            }
        });
        if (h.isEmpty()) {
            return Optional.empty();
        }
        Map<String, String> options = new LinkedHashMap<>();
        map(h.get(SCHEDULER_OPTIONS)).forEach((k, v) -> options.put(k, String.valueOf(v)));
        return Optional.of(Hires.of(h.get("scale") == null ? null : number(h.get("scale")),
                h.get("width") == null ? null : (int) number(h.get("width")),
                h.get("height") == null ? null : (int) number(h.get("height")),
                h.get("strength") == null ? null : number(h.get("strength")),
                h.get("steps") == null ? null : (int) number(h.get("steps")), (String) h.get("upscaler"), width,
                height).withScheduler((String) h.get("scheduler"), options)
                .withGuidance(h.get("guidance") == null ? 0 : number(h.get("guidance")))
                .withPrompts((String) h.get("prompt"), (String) h.get("negativePrompt")));
    }

    /**
     * The recorded variation with the seed and strength given laid over it (null for not given); empty when neither
     * records nor gives one.
     *
     * @throws IllegalArgumentException naming the flag that is missing, or the strength out of range
     */
    Optional<Variation> variation(Long seed, Double strength) {
        Map<String, Object> recorded = map(values.get(VARIATION));
        return variationOf(seed != null ? seed : recorded.get("seed") == null ? null
                : ((Number) recorded.get("seed")).longValue(), strength != null ? strength
                        : recorded.get("strength") == null ? null : number(recorded.get("strength")));
    }

    /**
     * A variation of this seed and strength; empty when neither is given.
     *
     * @throws IllegalArgumentException naming the flag that is missing, or the strength out of range
     */
    static Optional<Variation> variationOf(Long seed, Double strength) {
        if (seed == null && strength == null) {
            return Optional.empty();
        }
        if (seed == null || strength == null) {
            throw new IllegalArgumentException(seed == null ? "--variation-strength needs --variation-seed, the seed "
                    + "whose starting noise it goes towards" : "--variation-seed needs --variation-strength, how far "
                            + "towards its noise, in [0, 1]");
        }
        return Optional.of(new Variation(seed, strength));
    }

    /** The size whose noise the recorded request draws its seed's at, if it records one. */
    Optional<SeedResize> seedResize() {
        Map<String, Object> recorded = map(values.get("seedResizeFrom"));
        return recorded.isEmpty() ? Optional.empty() : Optional.of(new SeedResize((int) number(recorded.get("width")),
                (int) number(recorded.get("height"))));
    }

    /**
     * The recorded perturbed-attention guidance with the scale, adaptive scale and layers given laid over it (null and
     * empty for not given); empty when neither records nor gives a scale.
     *
     * @throws IllegalArgumentException naming the flag when an adaptive scale or layers come without a scale
     * @throws dev.montage.api.InvalidRequestException naming the field of a value out of range
     */
    Optional<PerturbedAttention> perturbedAttention(Double scale, Double adaptiveScale, List<String> layers) {
        Map<String, Object> recorded = map(values.get(PERTURBED_ATTENTION));
        List<String> recordedLayers = new ArrayList<>();
        if (recorded.get("layers") instanceof List<?> list) {
            list.forEach(l -> recordedLayers.add(String.valueOf(l)));
        }
        return perturbedAttentionOf(scale != null ? scale : recorded.get("scale") == null ? null
                : number(recorded.get("scale")), adaptiveScale != null ? adaptiveScale
                        : recorded.get("adaptiveScale") == null ? null : number(recorded.get("adaptiveScale")),
                layers.isEmpty() ? recordedLayers : layers);
    }

    /**
     * Perturbed-attention guidance of this scale, adaptive scale (null for 0) and layers (empty for the default);
     * empty when no scale is given.
     *
     * @throws IllegalArgumentException naming the flag when an adaptive scale or layers come without a scale
     * @throws dev.montage.api.InvalidRequestException naming the field of a value out of range
     */
    static Optional<PerturbedAttention> perturbedAttentionOf(Double scale, Double adaptiveScale, List<String> layers) {
        if (scale == null) {
            if (adaptiveScale != null || !layers.isEmpty()) {
                throw new IllegalArgumentException((adaptiveScale != null ? "--pag-adaptive-scale" : "--pag-layer")
                        + " needs --pag-scale, the scale of the perturbed-attention guidance");
            }
            return Optional.empty();
        }
        return Optional.of(new PerturbedAttention(scale, adaptiveScale == null ? 0 : adaptiveScale, layers));
    }

    /**
     * The component options the recorded pipeline was built with ({@code options.scheduler.eta} ...), by their profile
     * keys; empty for an A1111 PNG, which records none.
     */
    Map<String, String> componentOptions() {
        Map<String, String> options = new TreeMap<>();
        map(map(values.get(GenerationRecord.MONTAGE)).get("pipeline")).forEach((key, value) -> {
            if (key.startsWith(OPTIONS)) {
                options.put(key, String.valueOf(value));
            }
        });
        return options;
    }

    /** The recorded settings of the recorded scheduler, by name. */
    Map<String, String> schedulerOptions() {
        Map<String, String> options = new LinkedHashMap<>();
        map(values.get(SCHEDULER_OPTIONS)).forEach((k, v) -> options.put(k, String.valueOf(v)));
        return options;
    }

    /** A field's value, or null when the record has none. */
    Object get(String field) {
        return values.get(field);
    }

    /** The auto layout the record asks for, or null. */
    AutoLayout autoLayout() {
        Map<String, Object> a = map(values.get("autoLayout"));
        return a.isEmpty() ? null : new AutoLayout(number(a.get("threshold")), (int) number(a.get("startStep")));
    }

    /**
     * The recorded subjects, each with the picture at its recorded file.
     *
     * @throws IllegalArgumentException naming the subject, its file and hash when the picture is not there or changed
     */
    List<Subject> subjects() throws IOException {
        List<Subject> subjects = new ArrayList<>();
        for (Object o : list(values.get("subjects"))) {
            Map<String, Object> s = map(o);
            String field = "subjects[" + subjects.size() + "]";
            Path file = picture(s, field, "--subject");
            List<Object> box = list(s.get("box"));
            Subject subject = new Subject(SubjectSpec.readImage(file), file.getFileName().toString(),
                    (String) s.get("phrase"), box.isEmpty() ? Box.NONE : new Box(number(box.get(0)),
                    number(box.get(1)), number(box.get(2)), number(box.get(3))),
                    s.get("scale") == null ? OptionalDouble.empty() : OptionalDouble.of(number(s.get("scale"))),
                    Boolean.TRUE.equals(s.get("dropGrounding")));
            subjects.add(subject);
        }
        return subjects;
    }

    /** The recorded controls, each with its inline keypoints or the picture at its recorded file. */
    List<Control> controls() throws IOException {
        List<Control> controls = new ArrayList<>();
        for (Object o : list(values.get("controls"))) {
            Map<String, Object> c = map(o);
            String field = "controls[" + controls.size() + "]";
            Map<String, String> options = new LinkedHashMap<>();
            map(c.get("options")).forEach((k, v) -> options.put(k, String.valueOf(v)));
            String type = (String) c.get("type");
            ControlData keypoints = c.get("keypoints") == null ? null
                    : new ControlData(JSON.writeValueAsBytes(c.get("keypoints")), field + ".keypoints");
            controls.add(Control.fromRequestOptions(type,
                    keypoints != null ? null : SubjectSpec.readImage(picture(c, field, "--control")), keypoints,
                    number(c.get("scale")), number(c.get("start")), number(c.get("end")), options));
        }
        return controls;
    }

    /**
     * The recorded init image and its mask at their recorded files, with a strength: {@code strength} where given,
     * else the recorded one; null when the record has none.
     *
     * @throws IllegalArgumentException naming the file and hash when a picture is not there or changed
     */
    InitImage initImage(Double strength) throws IOException {
        Map<String, Object> init = map(values.get(INIT_IMAGE));
        if (init.isEmpty()) {
            return null;
        }
        Path file = picture(init, INIT_IMAGE, "--init-image");
        InitImage recorded = new InitImage(SubjectSpec.readImage(file), file.getFileName().toString(),
                strength != null ? strength : number(init.get("strength")));
        Map<String, Object> mask = map(init.get(MASK));
        if (mask.isEmpty()) {
            return recorded;
        }
        Path maskFile = picture(mask, INIT_IMAGE + "." + MASK, "--mask");
        return recorded.withMask(SubjectSpec.readImage(maskFile), maskFile.getFileName().toString());
    }

    /**
     * The strength the record's init image ran at, or that of an A1111 img2img PNG; null when it records none.
     */
    Double initImageStrength() {
        Object strength = map(values.get(INIT_IMAGE)).get("strength");
        return strength != null ? number(strength) : pictureStrength.orElse(null);
    }



    /** How the recorded init image and its mask are given again: the recorded files and hashes. */
    Map<String, Object> initImageSource() {
        Map<String, Object> init = map(values.get(INIT_IMAGE));
        Map<String, Object> source = source(init);
        if (init.containsKey(MASK)) {
            source.put(MASK, source(map(init.get(MASK))));
        }
        return source;
    }

    /** How each recorded subject's picture is given again: the recorded file and hash. */
    List<Map<String, Object>> subjectSources() {
        return list(values.get("subjects")).stream().map(o -> source(map(o))).toList();
    }

    /** How each recorded control's input is given again: its keypoints, or the recorded file and hash. */
    List<Map<String, Object>> controlSources() {
        return list(values.get("controls")).stream().map(o -> {
            Map<String, Object> c = map(o);
            return c.containsKey("keypoints") ? Map.of("keypoints", c.get("keypoints")) : source(c);
        }).toList();
    }

    private static Map<String, Object> source(Map<String, Object> entry) {
        Map<String, Object> source = new LinkedHashMap<>();
        for (String key : List.of(GenerationRecord.FILE, GenerationRecord.SHA256)) {
            if (entry.get(key) != null) {
                source.put(key, entry.get(key));
            }
        }
        return source;
    }

    /** The file a recorded picture was read from, checked against its recorded SHA-256. */
    private Path picture(Map<String, Object> entry, String field, String flag) throws IOException {
        String hash = (String) entry.get(GenerationRecord.SHA256);
        String file = (String) entry.get(GenerationRecord.FILE);
        String again = "; give the " + switch (flag) {
            case "--subject" -> "subjects";
            case "--control" -> "controls";
            default -> "picture";
        } + " again with " + flag;
        if (file == null) {
            throw new IllegalArgumentException("--from " + png + ": " + field + " was given as "
                    + (entry.containsKey("uploadId") ? "upload " + entry.get("uploadId") : "inline data")
                    + " (sha256 " + hash + "), not a file" + again);
        }
        Path path = Path.of(file);
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException("--from " + png + ": " + field + "'s picture " + path
                    + " (sha256 " + hash + ") is not there" + again);
        }
        String actual = ModelHashes.sha256(Files.readAllBytes(path));
        if (hash != null && !hash.equals(actual)) {
            throw new IllegalArgumentException("--from " + png + ": " + field + "'s picture " + path
                    + " has changed (sha256 " + actual + ", recorded " + hash + ")" + again);
        }
        return path;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o) {
        return o instanceof List<?> l ? (List<Object>) l : List.of();
    }

    private static double number(Object o) {
        return ((Number) o).doubleValue();
    }
}

package dev.montage.dist.record;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.Control;
import dev.montage.api.GenerationRequest;
import dev.montage.api.Hires;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.Subject;
import dev.montage.plugins.clip.SdxlTextEncoderFactory;
import dev.montage.runtime.pipeline.Lora;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The record of a generation in the API's vocabulary: the request as the body of {@code POST /v1/generations}
 * writes it (every value effective: defaults and the drawn seed filled in; each picture named by how it can be given
 * again and by the SHA-256 of its bytes), plus a {@code montage} object with what made it (the Montage version, the
 * pipeline's components, engine and model paths, the SHA-256 of its model files). A server takes the record as a
 * request (it ignores {@code montage}, {@code file} and the LoRAs' hashes); PNGs carry it beside A1111's text.
 */
public final class GenerationRecord {
    /** The PNG text chunk A1111 reads. */
    public static final String A1111_CHUNK = "parameters";
    /** The PNG text chunk holding the record as JSON. */
    public static final String JSON_CHUNK = "montage";
    /** The request field with what made the result; a request may carry it and it is not read. */
    public static final String MONTAGE = "montage";
    /** The field of a picture (or LoRA) holding the SHA-256 of its file's bytes. */
    public static final String SHA256 = "sha256";
    /** The field of a picture (or LoRA) naming the file it was read from on the machine that ran it. */
    public static final String FILE = "file";

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The scheduler setting of its η, which a request may give. */
    public static final String ETA = "eta";
    /** The pipeline's key of the scheduler's η, as its description names the options it was built with. */
    /** The pipeline parameters' prefix of the scheduler's component options. */
    private static final String SCHEDULER_OPTION_PREFIX = "options.scheduler.";
    private static final String ETA_OPTION = SCHEDULER_OPTION_PREFIX + ETA;

    private GenerationRecord() {
    }

    /**
     * The request in the API's names.
     *
     * @param subjectSources per subject, the fields that give its picture again ({@code uploadId}, {@code file},
     *                       {@code sha256}); empty for none known
     * @param controlSources per control, likewise (or its inline {@code keypoints})
     * @param initImageSource likewise for the init image; empty for none known
     * @param loras          the request's LoRAs as {@code {name, scale, ...}}
     */
    public static Map<String, Object> request(GenerationRequest r, List<Map<String, Object>> subjectSources,
            List<Map<String, Object>> controlSources, Map<String, Object> initImageSource,
            List<Map<String, Object>> loras) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("prompt", r.prompt());
        p.put("negativePrompt", r.negativePrompt());
        p.put("width", r.width());
        p.put("height", r.height());
        p.put("steps", r.steps());
        p.put("guidance", r.guidanceScale());
        if (r.guidanceRescale() > 0) {
            p.put("guidanceRescale", r.guidanceRescale());
        }
        p.put("scale", r.imageScale());
        p.put("seed", r.seed());
        p.put("count", r.numImages());
        p.put("scheduler", r.scheduler().orElse(null));
        p.put("schedulerOptions", r.schedulerOptions());
        List<Map<String, Object>> subjects = new ArrayList<>();
        for (int i = 0; i < r.subjects().size(); i++) {
            Subject s = r.subjects().get(i);
            Map<String, Object> v = new LinkedHashMap<>(i < subjectSources.size() ? subjectSources.get(i) : Map.of());
            if (s.phrase() != null) {
                v.put("phrase", s.phrase());
            }
            if (!s.box().isNone()) {
                v.put("box", List.of(s.box().x0(), s.box().y0(), s.box().x1(), s.box().y1()));
            }
            s.scale().ifPresent(x -> v.put("scale", x));
            v.put("dropGrounding", s.dropGrounding());
            subjects.add(Collections.unmodifiableMap(v));
        }
        p.put("subjects", List.copyOf(subjects));
        List<Map<String, Object>> controls = new ArrayList<>();
        for (int i = 0; i < r.controls().size(); i++) {
            Control c = r.controls().get(i);
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("type", c.type());
            v.putAll(i < controlSources.size() ? controlSources.get(i) : Map.of());
            v.put("scale", c.conditioningScale());
            v.put("start", c.guidanceStart());
            v.put("end", c.guidanceEnd());
            v.put("options", c.requestOptions());
            controls.add(Collections.unmodifiableMap(v));
        }
        p.put("controls", List.copyOf(controls));
        r.autoLayout().ifPresent(a -> p.put("autoLayout", Map.of("threshold", a.threshold(), "startStep",
                a.startStep())));
        r.initImage().ifPresent(i -> {
            Map<String, Object> v = new LinkedHashMap<>(initImageSource);
            v.put("strength", i.strength());
            p.put("initImage", Collections.unmodifiableMap(v));
        });
        r.hires().ifPresent(h -> p.put("hires", hiresFields(h)));
        r.variation().ifPresent(v -> p.put("variation", Map.of("seed", v.seed(), "strength", v.strength())));
        r.perturbedAttention().ifPresent(a -> p.put("perturbedAttention", perturbedAttentionFields(a)));
        r.seedResizeFrom().ifPresent(s -> p.put("seedResizeFrom", Map.of("width", s.width(), "height", s.height())));
        p.put("loras", List.copyOf(loras));
        return Collections.unmodifiableMap(p);
    }

    /** Perturbed-attention guidance as a request's {@code perturbedAttention} gives it. */
    public static Map<String, Object> perturbedAttentionFields(PerturbedAttention a) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("scale", a.scale());
        v.put("adaptiveScale", a.adaptiveScale());
        v.put("layers", a.layers());
        return Collections.unmodifiableMap(v);
    }

    /**
     * A hires pass as a request's {@code hires} gives it, by its size; its scheduler, guidance and prompts where it
     * has its own.
     */
    public static Map<String, Object> hiresFields(Hires h) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("width", h.width());
        v.put("height", h.height());
        v.put("strength", h.strength());
        v.put("steps", h.steps());
        v.put("upscaler", h.upscaler().id());
        h.scheduler().ifPresent(id -> v.put("scheduler", id));
        if (!h.schedulerOptions().isEmpty()) {
            v.put("schedulerOptions", new TreeMap<>(h.schedulerOptions()));
        }
        if (h.guidance() != 0) {
            v.put("guidance", h.guidance());
        }
        h.prompt().ifPresent(p -> v.put("prompt", p));
        h.negativePrompt().ifPresent(p -> v.put("negativePrompt", p));
        return Collections.unmodifiableMap(v);
    }

    /** The fields that give a picture read from a file again: its absolute path and the SHA-256 of its bytes. */
    public static Map<String, Object> fileSource(Path file, byte[] bytes) {
        return Map.of(FILE, file.toAbsolutePath().normalize().toString(), SHA256, ModelHashes.sha256(bytes));
    }

    /** LoRAs a pipeline applied (its description's {@code lora.N}) as a request names them, with their files. */
    public static List<Map<String, Object>> loras(Map<String, String> pipeline) {
        List<Map<String, Object>> loras = new ArrayList<>();
        for (int i = 0; pipeline.containsKey(Lora.parameterKey(i)); i++) {
            Lora l = Lora.parse(pipeline.get(Lora.parameterKey(i)));
            loras.add(Map.of("name", loraName(l.file()), "scale", l.scale(), FILE, l.file().toAbsolutePath()
                    .normalize().toString()));
        }
        return loras;
    }

    private static String loraName(Path file) {
        return file.getFileName().toString().replaceFirst("\\.safetensors$", "");
    }

    /**
     * The record of a result: its request and, under {@code montage}, the Montage version, the pipeline's
     * description and the SHA-256 of each model weights file it read.
     *
     * @param more further entries of the {@code montage} object (a server's generation id and times)
     */
    public static Map<String, Object> of(Map<String, Object> request, Map<String, String> pipeline,
            ModelHashes hashes, Map<String, Object> more) throws IOException {
        Map<String, Object> models = new LinkedHashMap<>();
        for (Map.Entry<String, Path> e : ModelHashes.weightFiles(pipeline).entrySet()) {
            models.put(e.getKey(), Map.of(FILE, e.getValue().toAbsolutePath().normalize().toString(), SHA256,
                    hashes.sha256(e.getValue())));
        }
        Map<String, Object> montage = new LinkedHashMap<>();
        montage.put("version", version());
        montage.putAll(more);
        montage.put("pipeline", pipeline);
        montage.put("models", models);
        Map<String, Object> record = new LinkedHashMap<>(request);
        // a request that names no scheduler ran the pipeline's default: the record names it
        if (record.get("scheduler") == null) {
            record.put("scheduler", pipeline.get("scheduler"));
        }
        record.put(MONTAGE, montage);
        return record;
    }

    /** The version of this Montage build, from the jar's manifest. */
    public static String version() {
        return Optional.ofNullable(GenerationRecord.class.getPackage().getImplementationVersion())
                .orElse("development build");
    }

    /** The PNG text chunks of a result: A1111's {@code parameters} and the record as JSON under {@code montage}. */
    public static Map<String, String> pngChunks(GenerationRequest r, Map<String, Object> record) throws IOException {
        Map<String, String> chunks = new LinkedHashMap<>();
        chunks.put(A1111_CHUNK, a1111(r, record).text());
        chunks.put(JSON_CHUNK, JSON.writeValueAsString(record));
        return chunks;
    }

    /** The record a PNG's {@code montage} chunk holds, or empty when it has none. */
    public static Optional<Map<String, Object>> fromPng(Map<String, String> chunks) throws IOException {
        String json = chunks.get(JSON_CHUNK);
        return json == null ? Optional.empty()
                : Optional.of(JSON.readValue(json, new TypeReference<Map<String, Object>>() { }));
    }

    /** The record as A1111 writes generation parameters, with Montage's own keys after A1111's. */
    @SuppressWarnings("unchecked")
    static A1111Parameters a1111(GenerationRequest r, Map<String, Object> record) {
        Map<String, Object> montage = (Map<String, Object>) record.getOrDefault(MONTAGE, Map.of());
        Map<String, String> pipeline = (Map<String, String>) montage.getOrDefault("pipeline", Map.of());
        Map<String, Map<String, String>> models = (Map<String, Map<String, String>>) montage.getOrDefault("models",
                Map.of());
        Map<String, String> v = new LinkedHashMap<>();
        v.put("Steps", Integer.toString(r.steps()));
        String scheduler = pipeline.getOrDefault("scheduler", r.scheduler().orElse(""));
        Samplers.Sampler sampler = Samplers.of(scheduler, name -> Optional.ofNullable(r.schedulerOptions().get(name))
                .or(() -> Optional.ofNullable(pipeline.get(SCHEDULER_OPTION_PREFIX + name))));
        v.put("Sampler", sampler.name());
        sampler.scheduleType().ifPresent(t -> v.put("Schedule type", t));
        sampler.etaName().ifPresent(name -> Optional.ofNullable(r.schedulerOptions().get(ETA))
                .or(() -> Optional.ofNullable(pipeline.get(ETA_OPTION)))
                .filter(eta -> Double.parseDouble(eta) != sampler.etaDefault()).ifPresent(eta -> v.put(name, eta)));
        v.put("CFG scale", Double.toString(r.guidanceScale()));
        v.put("Seed", Long.toString(r.seed()));
        r.variation().ifPresent(variation -> {
            v.put("Variation seed", Long.toString(variation.seed()));
            v.put("Variation seed strength", Double.toString(variation.strength()));
        });
        r.seedResizeFrom().ifPresent(s -> v.put(ImportedRecord.A1111_SEED_RESIZE, s.width() + "x" + s.height()));
        // Forge's built-in perturbed-attention guidance perturbs the middle block at one scale, as the default does
        r.perturbedAttention().filter(a -> a.adaptiveScale() == 0 && a.layers().equals(PerturbedAttention
                .DEFAULT_LAYERS)).ifPresent(a -> v.putAll(ImportedRecord.forgeGuidance(a.scale())));
        v.put("Size", r.width() + "x" + r.height());
        Optional.ofNullable(models.get(ModelHashes.BASE)).ifPresent(m -> v.put("Model hash",
                m.get(SHA256).substring(0, 10)));
        Optional.ofNullable(pipeline.get(ModelHashes.BASE)).ifPresent(m -> v.put("Model",
                Path.of(m).getFileName().toString().replaceFirst("\\.(safetensors|ckpt)$", "")));
        // where A1111's img2img and its hires fix write it
        r.initImage().ifPresent(i -> v.put("Denoising strength", Double.toString(i.strength())));
        r.hires().ifPresent(h -> {
            v.put("Denoising strength", Double.toString(h.strength()));
            double scale = h.scale(r.width());
            // a size beyond A1111's largest scale, or of another aspect, is written as the size it is
            Hires scaled = scale <= Hires.MAX_SCALE ? Hires.scaled(r.width(), r.height(), scale, h.strength(),
                    h.steps(), h.upscaler()) : null;
            if (scaled != null && scaled.width() == h.width() && scaled.height() == h.height()) {
                v.put("Hires upscale", BigDecimal.valueOf(scale).stripTrailingZeros().toPlainString());
            } else {
                v.put("Hires resize", h.width() + "x" + h.height());
            }
            if (h.steps() > 0) {
                v.put("Hires steps", Integer.toString(h.steps()));
            }
            v.put("Hires upscaler", h.upscaler().a1111Name());
            h.scheduler().ifPresent(id -> {
                Samplers.Sampler hiresSampler = Samplers.of(id, name -> Optional.ofNullable(h.schedulerOptions()
                        .get(name)));
                v.put("Hires sampler", hiresSampler.name());
                hiresSampler.scheduleType().ifPresent(t -> v.put("Hires schedule type", t));
            });
            if (h.guidance() != 0) {
                v.put("Hires CFG Scale", Double.toString(h.guidance()));
            }
            h.prompt().ifPresent(p -> v.put("Hires prompt", p));
            h.negativePrompt().ifPresent(p -> v.put("Hires negative prompt", p));
        });
        String loraHashes = models.entrySet().stream().filter(e -> e.getKey().startsWith("lora."))
                .map(e -> loraName(Path.of(e.getValue().get(FILE))) + ": " + e.getValue().get(SHA256).substring(0, 12))
                .collect(Collectors.joining(", "));
        if (!loraHashes.isEmpty()) {
            v.put("Lora hashes", loraHashes);
        }
        // as A1111: the embeddings the prompts name, by the first 12 hex digits of their files' SHA-256
        String embeddings = "model." + SdxlTextEncoderFactory.EMBEDDINGS_KEY + ".";
        String tiHashes = models.entrySet().stream().filter(e -> e.getKey().startsWith(embeddings))
                .filter(e -> (r.prompt() + "\n" + r.negativePrompt()).contains(e.getKey().substring(embeddings
                        .length()))).map(e -> e.getKey().substring(embeddings.length()) + ": "
                                + e.getValue().get(SHA256).substring(0, 12)).collect(Collectors.joining(", "));
        if (!tiHashes.isEmpty()) {
            v.put("TI hashes", tiHashes);
        }
        if (!r.subjects().isEmpty()) {
            v.put("Subject scale", Double.toString(r.imageScale()));
            v.put("Subjects", r.subjects().stream().map(s -> (s.phrase() == null ? "" : s.phrase())
                    + (s.box().isNone() ? "" : " [" + s.box() + "]")
                    + s.scale().stream().mapToObj(x -> " scale " + x).findFirst().orElse("")).map(String::strip)
                    .collect(Collectors.joining("; ")));
        }
        r.autoLayout().ifPresent(a -> v.put("Auto layout", "threshold " + a.threshold() + ", start step "
                + a.startStep()));
        for (int i = 0; i < r.controls().size(); i++) {
            Control c = r.controls().get(i);
            v.put("ControlNet " + i, "Module: " + c.type() + ", Weight: " + c.conditioningScale()
                    + ", Guidance Start: " + c.guidanceStart() + ", Guidance End: " + c.guidanceEnd());
        }
        v.put("Version", "Montage " + montage.getOrDefault("version", version()));
        return new A1111Parameters(r.prompt(), r.negativePrompt(), v);
    }
}

package dev.montage.dist.record;

import dev.montage.api.PerturbedAttention;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The generation another tool's PNG records, as the fields of a Montage request: AUTOMATIC1111's {@code parameters}
 * text (prompt, negative prompt, steps, guidance, seed, size, its sampler where one of Montage's schedulers is the same
 * method, with DDIM's η, its hires fix and variation seed, the LoRAs its prompt's {@code <lora:name:weight>} tags
 * name), else ComfyUI's {@code prompt} workflow ({@link ComfyPrompt}). LoRAs are given by name (their file's name
 * without the {@code .safetensors}), as a server request names them; the PNG says nothing of where their files are.
 *
 * @param maker            {@code AUTOMATIC1111} or {@code ComfyUI}
 * @param values           the request's fields by their API names
 * @param unmatchedSampler the sampler (with its schedule) that none of Montage's schedulers is, if the PNG names one
 * @param unapplied        the settings and nodes that nothing here corresponds to ({@code Clip skip: 2}, a
 *                         {@code LoraLoader} node); model and version names are not among them
 * @param pictureStrength  the strength of a run from a picture that the PNG does not store (A1111's img2img
 *                         {@code Denoising strength}, a ComfyUI sampler's {@code denoise})
 * @param textProblems     why a prompt could not be read, by the request field it leaves out ({@code prompt},
 *                         {@code negativePrompt})
 */
public record ImportedRecord(String maker, Map<String, Object> values, Optional<String> unmatchedSampler,
        List<String> unapplied, Optional<Double> pictureStrength, Map<String, String> textProblems) {
    /** The {@link #maker} of a PNG with A1111's {@code parameters} text (Forge's too). */
    public static final String A1111 = "AUTOMATIC1111";
    /** The {@link #maker} of a PNG with ComfyUI's {@code prompt} workflow. */
    public static final String COMFY_UI = "ComfyUI";
    /**
     * A1111's extra-network tags, which it takes out of a prompt before encoding it: {@code <lora:name:te:unet>},
     * {@code <hypernet:name:weight>} and the like.
     */
    private static final Pattern EXTRA_NETWORK = Pattern.compile("<(\\w+):([^>]+)>");
    private static final String LORAS = "loras";
    /** A1111's strength of its img2img and of its hires fix. */
    public static final String A1111_STRENGTH = "Denoising strength";
    private static final String SCHEDULER_OPTIONS = "schedulerOptions";
    private static final String HIRES = "hires";
    private static final String VARIATION = "variation";
    /** The A1111 settings a run takes from the PNG. */
    private static final Set<String> A1111_READ = Set.of("Steps", "CFG scale", "Seed", "Size", "Sampler",
            "Schedule type");
    /** A1111's η of DDIM and of the k-diffusion SDE samplers, read where the sampler's built-in reads it. */
    private static final Set<String> A1111_ETA = Set.of("Eta DDIM", "Eta");
    /** A1111's size a seed's noise is drawn at ("Seed resize from"). */
    static final String A1111_SEED_RESIZE = "Seed resize from";
    /** A1111's variation seed and its strength. */
    private static final Set<String> A1111_VARIATION = Set.of("Variation seed", "Variation seed strength");
    /**
     * A1111's hires fix: its size (one of the first two), steps, upscaler, strength, and the sampler, guidance and
     * prompts of its own.
     */
    private static final Set<String> A1111_HIRES = Set.of("Hires upscale", "Hires resize", "Hires steps",
            "Hires upscaler", A1111_STRENGTH, "Hires sampler", "Hires schedule type", "Hires CFG Scale",
            "Hires prompt", "Hires negative prompt");
    /**
     * What Forge's built-in perturbed-attention guidance records: on or off, its scale on the UNet's middle block, the
     * share of the scale taken off after each step, and the window of steps it acts in.
     */
    private static final List<String> FORGE_GUIDANCE = List.of("pagi_enabled", "pagi_scale", "pagi_attenuation",
            "pagi_start_step", "pagi_end_step");
    /** What A1111 records of its model, networks and version: names, which the profile's files answer for. */
    private static final Set<String> A1111_NAMES = Set.of("Model hash", "Model", "VAE hash", "VAE", "Version",
            "Lora hashes", "TI hashes", "Hashes");

    public ImportedRecord {
        values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        unapplied = List.copyOf(unapplied);
        textProblems = Map.copyOf(textProblems);
    }

    /**
     * The generation of a PNG's text chunks: A1111's {@code parameters}, else ComfyUI's {@code prompt}; empty where
     * neither is there.
     *
     * @throws IllegalArgumentException naming what cannot be read: a malformed text or value, a workflow without a
     *     sampler
     */
    public static Optional<ImportedRecord> of(Map<String, String> chunks) {
        String a1111 = chunks.get(GenerationRecord.A1111_CHUNK);
        if (a1111 != null) {
            return Optional.of(fromA1111(a1111));
        }
        String comfy = chunks.get(ComfyPrompt.CHUNK);
        return comfy == null ? Optional.empty() : Optional.of(fromComfy(comfy));
    }

    /**
     * The generation of a ComfyUI workflow (its API form): prompts, seed, steps, cfg, size and batch of its sampler,
     * whose sampler and schedule are the built-in scheduler and settings that are the same method
     * ({@link ComfyPrompt#builtIn()}), and its perturbed-attention guidance; a sampler that starts from a picture gives
     * the strength of that run.
     */
    private static ImportedRecord fromComfy(String text) {
        ComfyPrompt c = ComfyPrompt.parse(text);
        Map<String, Object> v = new LinkedHashMap<>();
        c.prompt().ifPresent(p -> v.put("prompt", p));
        c.negativePrompt().ifPresent(p -> v.put("negativePrompt", p));
        v.put("steps", c.steps());
        v.put("guidance", c.cfg());
        v.put("seed", c.seed());
        v.put("count", c.count());
        c.size().ifPresent(wh -> {
            v.put("width", wh[0]);
            v.put("height", wh[1]);
        });
        Optional<Map.Entry<String, Map<String, String>>> scheduler = c.builtIn();
        scheduler.ifPresent(s -> {
            v.put("scheduler", s.getKey());
            v.put(SCHEDULER_OPTIONS, s.getValue());
        });
        c.perturbedAttention().ifPresent(scale -> v.put("perturbedAttention", GenerationRecord
                .perturbedAttentionFields(PerturbedAttention.of(scale))));
        List<String> unapplied = new ArrayList<>(c.unapplied());
        List<Map<String, Object>> loras = new ArrayList<>();
        for (ComfyPrompt.LoraNode lora : c.loras()) {
            String file = lora.file().substring(lora.file().lastIndexOf('/') + 1);
            addLora(loras, file.endsWith(".safetensors") ? file.substring(0, file.length() - 12) : file,
                    lora.strength(), unapplied);
        }
        if (!loras.isEmpty()) {
            v.put(LORAS, loras);
        }
        c.secondPass().ifPresent(pass -> v.put(HIRES, hires(c, pass, unapplied)));
        if (c.size().isPresent() && c.denoise() < 1) {
            unapplied.add("denoise " + c.denoise() + " of a sampler that starts from an empty latent image");
        }
        Map<String, String> textProblems = new LinkedHashMap<>();
        c.textProblems().forEach((input, problem) -> textProblems.put(input.equals("positive") ? "prompt"
                : "negativePrompt", problem));
        return new ImportedRecord(COMFY_UI, v, scheduler.isPresent() ? Optional.empty() : Optional.of(c.sampler()
                + " (scheduler " + c.scheduler() + ")"), unapplied, c.size().isEmpty() ? Optional.of(c.denoise())
                        : Optional.empty(), textProblems);
    }

    /**
     * ComfyUI's second pass as a request's {@code hires} gives it: its size and upscaler; the schedule of
     * {@code steps / denoise} steps (ComfyUI's {@code int(steps / denoise)}) with the strength that takes exactly its
     * {@code steps}; its sampler as the built-in scheduler that is the same method, its cfg and prompts where they
     * are not the first pass's. Its own seed, and a sampler none of the schedulers is, are added to {@code unapplied}.
     */
    private static Map<String, Object> hires(ComfyPrompt first, ComfyPrompt.SecondPass pass, List<String> unapplied) {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("width", pass.width());
        h.put("height", pass.height());
        int total = pass.denoise() >= 1 ? pass.steps() : (int) (pass.steps() / pass.denoise());
        double strength = (double) pass.steps() / total;
        while ((int) (total * strength) < pass.steps()) {
            strength = Math.nextUp(strength);
        }
        h.put("strength", strength);
        h.put("steps", total);
        h.put("upscaler", pass.upscaler());
        Optional<Map.Entry<String, Map<String, String>>> scheduler = ComfyPrompt.builtIn(pass.sampler(),
                pass.scheduler());
        if (!pass.sampler().equals(first.sampler()) || !pass.scheduler().equals(first.scheduler())) {
            scheduler.ifPresentOrElse(e -> {
                h.put("scheduler", e.getKey());
                h.put(SCHEDULER_OPTIONS, e.getValue());
            }, () -> unapplied.add("the second sampler's " + pass.sampler() + " (scheduler " + pass.scheduler()
                    + "), none of Montage's schedulers: the hires pass takes the first's"));
        }
        if (pass.cfg() != first.cfg()) {
            h.put("guidance", pass.cfg());
        }
        pass.prompt().filter(p -> !first.prompt().equals(Optional.of(p))).ifPresent(p -> h.put("prompt", p));
        pass.negativePrompt().filter(p -> !first.negativePrompt().equals(Optional.of(p)))
                .ifPresent(p -> h.put("negativePrompt", p));
        if (pass.seed() != first.seed()) {
            unapplied.add("the second sampler's seed " + pass.seed() + " (the hires pass takes the first's)");
        }
        return h;
    }

    /** The fields of A1111's text that mean the same in Montage, its sampler as a built-in scheduler's id. */
    private static ImportedRecord fromA1111(String text) {
        A1111Parameters p;
        try {
            p = A1111Parameters.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("its parameters text cannot be read: " + e.getMessage(), e);
        }
        Map<String, Object> v = new LinkedHashMap<>();
        List<Map<String, Object>> loras = new ArrayList<>();
        List<String> networks = new ArrayList<>();
        v.put("prompt", withoutNetworks(p.prompt(), loras, networks));
        v.put("negativePrompt", withoutNetworks(p.negativePrompt(), loras, networks));
        if (!loras.isEmpty()) {
            v.put(LORAS, loras);
        }
        Optional<Double> img2img;
        try {
            Optional.ofNullable(p.values().get("Steps")).ifPresent(s -> v.put("steps", Integer.parseInt(s)));
            Optional.ofNullable(p.values().get("CFG scale")).ifPresent(s -> v.put("guidance", Double.parseDouble(s)));
            Optional.ofNullable(p.values().get("Seed")).ifPresent(s -> v.put("seed", Long.parseLong(s)));
            Optional.ofNullable(p.values().get("Size")).ifPresent(s -> {
                String[] wh = s.split("x");
                v.put("width", Integer.parseInt(wh[0].strip()));
                v.put("height", Integer.parseInt(wh[1].strip()));
            });
            hires(p.values()).ifPresent(h -> v.put(HIRES, h));
            Optional.ofNullable(p.values().get("Variation seed")).ifPresent(seed -> v.put(VARIATION, Map.of("seed",
                    Long.parseLong(seed), "strength", Double.parseDouble(p.values().getOrDefault(
                            "Variation seed strength", "0")))));
            Optional.ofNullable(p.values().get(A1111_SEED_RESIZE)).map(ImportedRecord::seedResize).ifPresent(
                    size -> v.put("seedResizeFrom", size));
            Map<String, String> options = p.schedulerOptions();
            if (!options.isEmpty()) {
                v.put(SCHEDULER_OPTIONS, options);
            }
            img2img = v.containsKey(HIRES) ? Optional.empty()
                    : Optional.ofNullable(p.values().get(A1111_STRENGTH)).map(s -> Double.parseDouble(s.strip()));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("its parameters text has a malformed value: " + e.getMessage(), e);
        }
        Optional<String> scheduler = p.scheduler();
        scheduler.ifPresent(id -> v.put("scheduler", id));
        Set<String> read = new HashSet<>(A1111_READ);
        Map<String, String> guidance = new LinkedHashMap<>();
        FORGE_GUIDANCE.forEach(key -> Optional.ofNullable(p.values().get(key)).ifPresent(x -> guidance.put(key, x)));
        if (!Boolean.parseBoolean(guidance.getOrDefault("pagi_enabled", "false").strip())) {
            read.addAll(FORGE_GUIDANCE);
        } else {
            Optional<Double> scale = forgeScale(guidance);
            scale.filter(x -> x > 0).ifPresent(x -> v.put("perturbedAttention", GenerationRecord
                    .perturbedAttentionFields(PerturbedAttention.of(x))));
            if (scale.isPresent()) {
                read.addAll(FORGE_GUIDANCE);
            }
        }
        if (v.containsKey(SCHEDULER_OPTIONS)) {
            read.addAll(A1111_ETA);
        }
        if (v.containsKey(HIRES)) {
            read.addAll(A1111_HIRES);
        }
        if (v.containsKey(VARIATION)) {
            read.addAll(A1111_VARIATION);
        }
        if (v.containsKey("seedResizeFrom")) {
            read.add(A1111_SEED_RESIZE);
        }
        if (img2img.isPresent()) {
            read.add(A1111_STRENGTH);
        }
        List<String> unapplied = new ArrayList<>(p.values().entrySet().stream().filter(e -> !read.contains(e.getKey())
                && !A1111_NAMES.contains(e.getKey())).map(e -> e.getKey() + ": " + e.getValue()).toList());
        unapplied.addAll(networks);
        return new ImportedRecord(A1111, v, scheduler.isPresent() ? Optional.empty() : p.sampler(), unapplied,
                img2img, Map.of());
    }

    /**
     * A1111's "Seed resize from" {@code WxH} as a request's {@code seedResizeFrom}, each side taken down to a multiple
     * of 8 as A1111 divides it by the latent factor; null where a side is then 0 (A1111 draws no other size).
     */
    private static Map<String, Object> seedResize(String size) {
        String[] wh = size.strip().split("x");
        int width = Integer.parseInt(wh[0].strip()) / 8 * 8;
        int height = Integer.parseInt(wh[1].strip()) / 8 * 8;
        return width <= 0 || height <= 0 ? null : Map.of("width", width, "height", height);
    }

    /**
     * A prompt without its extra-network tags, as A1111 encodes it: a {@code <lora:name:weight>} tag (or LyCORIS's
     * {@code <lyco:...>}) adds the LoRA at that weight (1 without one) to {@code loras}; one whose UNet weight differs
     * from its text encoders' weight, and the tags of other networks (hypernetworks), are added to {@code unapplied}.
     */
    private static String withoutNetworks(String prompt, List<Map<String, Object>> loras, List<String> unapplied) {
        Matcher m = EXTRA_NETWORK.matcher(prompt);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String[] args = m.group(2).split(":");
            Optional<double[]> weights = weights(args);
            boolean lora = (m.group(1).equals("lora") || m.group(1).equals("lyco")) && weights.isPresent();
            if (lora && weights.get()[0] == weights.get()[1]) {
                addLora(loras, args[0].strip(), weights.get()[0], unapplied);
            } else {
                unapplied.add(m.group() + (lora ? " (its UNet weight is not its text encoders')" : ""));
            }
            m.appendReplacement(out, "");
        }
        m.appendTail(out);
        return out.toString();
    }

    /** A LoRA tag's text-encoder and UNet weights (the UNet's the text encoders' where it gives one), if numbers. */
    private static Optional<double[]> weights(String[] args) {
        try {
            double te = args.length > 1 ? Double.parseDouble(args[1].strip()) : 1;
            double unet = args.length > 2 ? Double.parseDouble(args[2].strip()) : te;
            return Optional.of(new double[] {te, unet});
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Adds a LoRA by name at a scale; a name given again is added to {@code unapplied}. */
    private static void addLora(List<Map<String, Object>> loras, String name, double scale, List<String> unapplied) {
        if (loras.stream().anyMatch(l -> l.get("name").equals(name))) {
            unapplied.add("LoRA " + name + " at " + scale + ", given again");
            return;
        }
        Map<String, Object> lora = new LinkedHashMap<>();
        lora.put("name", name);
        lora.put("scale", scale);
        loras.add(Collections.unmodifiableMap(lora));
    }

    /**
     * Forge's keys of perturbed-attention guidance at this scale on the whole run, as Forge reads them back.
     */
    static Map<String, String> forgeGuidance(double scale) {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("pagi_enabled", "True");
        v.put("pagi_scale", Double.toString(scale));
        v.put("pagi_attenuation", "0.0");
        v.put("pagi_start_step", "0.0");
        v.put("pagi_end_step", "1.0");
        return v;
    }

    /**
     * The scale of Forge's enabled perturbed-attention guidance where it acts at every step at that scale (no
     * attenuation, the whole window), as Montage's does (0: Forge's guidance off); empty otherwise (its keys are then
     * not applied).
     */
    private static Optional<Double> forgeScale(Map<String, String> guidance) {
        try {
            double scale = Double.parseDouble(guidance.getOrDefault("pagi_scale", "3").strip());
            boolean whole = Double.parseDouble(guidance.getOrDefault("pagi_attenuation", "0").strip()) == 0
                    && Double.parseDouble(guidance.getOrDefault("pagi_start_step", "0").strip()) == 0
                    && Double.parseDouble(guidance.getOrDefault("pagi_end_step", "1").strip()) >= 1;
            return whole && scale >= 0 ? Optional.of(scale) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * A1111's hires fix as a request's {@code hires} gives it, where the text has its size: {@code Hires upscale} a
     * scale, {@code Hires resize} a size; its upscaler by A1111's name, which {@link Hires.Upscaler#of} reads; its
     * {@code Hires sampler} and {@code Hires schedule type} as the built-in scheduler and settings they are (a sampler
     * none is kept by its name, which the run refuses naming {@code hires.scheduler}); {@code Hires CFG Scale};
     * {@code Hires prompt} and {@code Hires negative prompt}.
     */
    private static Optional<Map<String, Object>> hires(Map<String, String> a1111) {
        String scale = a1111.get("Hires upscale");
        String resize = a1111.get("Hires resize");
        if (scale == null && resize == null) {
            return Optional.empty();
        }
        Map<String, Object> h = new LinkedHashMap<>();
        if (resize != null) {
            String[] wh = resize.split("x");
            h.put("width", Integer.parseInt(wh[0].strip()));
            h.put("height", Integer.parseInt(wh[1].strip()));
        } else {
            h.put("scale", Double.parseDouble(scale));
        }
        Optional.ofNullable(a1111.get(A1111_STRENGTH)).ifPresent(v -> h.put("strength", Double.parseDouble(v)));
        Optional.ofNullable(a1111.get("Hires steps")).ifPresent(v -> h.put("steps", Integer.parseInt(v)));
        Optional.ofNullable(a1111.get("Hires upscaler")).ifPresent(v -> h.put("upscaler", v));
        Optional.ofNullable(a1111.get("Hires sampler")).ifPresent(sampler -> {
            A1111Parameters named = A1111Parameters.sampler(sampler, Optional.ofNullable(a1111.get(
                    "Hires schedule type")));
            h.put("scheduler", named.scheduler().orElse(sampler));
            Map<String, String> options = named.schedulerOptions();
            if (!options.isEmpty()) {
                h.put(SCHEDULER_OPTIONS, options);
            }
        });
        Optional.ofNullable(a1111.get("Hires CFG Scale")).ifPresent(v -> h.put("guidance", Double.parseDouble(v)));
        Optional.ofNullable(a1111.get("Hires prompt")).ifPresent(v -> h.put("prompt", v));
        Optional.ofNullable(a1111.get("Hires negative prompt")).ifPresent(v -> h.put("negativePrompt", v));
        return Optional.of(h);
    }
}

package dev.montage.runtime.config;

import dev.montage.api.FieldError;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Suggestions;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.DiffusersPipelineFolder;
import dev.montage.runtime.weights.TensorSource;
import dev.montage.runtime.weights.WeightFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The checks of a bound profile that need more than its shape: device and dtype names, the weight folders and files
 * (present, with weights whose headers read as a checkpoint, without reading a tensor), component ids against the
 * registry, request defaults. Adds every problem, never stops at the first.
 */
final class ProfileValidator {
    private static final Pattern CONTROL_TYPE = Pattern.compile("[a-z0-9][a-z0-9_-]*");
    private static final Pattern VARIANT = Pattern.compile("[A-Za-z0-9_-]+");
    private static final String BASE_EXPECTED = "the SDXL base diffusers folder (model_index.json, unet/, vae/, "
            + "text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/, scheduler/)";
    private static final String IMAGE_ENCODER_EXPECTED = "the CLIP-ViT-bigG-14 image encoder folder (transformers "
            + "CLIPVisionModelWithProjection: config.json and weights)";
    private static final Map<String, String> REQUEST_FIELDS = Map.of("width", "defaults.width", "height",
            "defaults.height", "steps", "defaults.steps", "guidanceScale", "defaults.guidance", "imageScale",
            "defaults.scale", "numImages", "defaults.count", "scheduler", "defaults.scheduler");

    private final SettingsTree tree;
    private final ProfileChecks checks;
    private final ComponentRegistry registry;
    private final ProfileResolver.Assembly assembly;
    private final List<ProfileProblem> problems;

    ProfileValidator(SettingsTree tree, ProfileChecks checks, ComponentRegistry registry,
            ProfileResolver.Assembly assembly, List<ProfileProblem> problems) {
        this.tree = tree;
        this.checks = checks;
        this.registry = registry;
        this.assembly = assembly;
        this.problems = problems;
    }

    void validate(Profile p) {
        engine(p.engine());
        models(p.models());
        components(p.components());
        defaults(p.defaults());
    }

    private void engine(EngineSettings e) {
        try {
            new EngineConfig(e.device(), EngineConfig.AUTO, 0, 0);
        } catch (IllegalArgumentException x) {
            problem("engine.device", x.getMessage());
        }
        try {
            new EngineConfig(EngineConfig.AUTO, e.dtype(), 0, 0);
        } catch (IllegalArgumentException x) {
            problem("engine.dtype", x.getMessage());
        }
        checks.atLeast("engine.threads", e.threads(), 0, "threads (0 = PyTorch's default)");
        checks.atLeast("engine.interop_threads", e.interopThreads(), 0, "threads (0 = PyTorch's default)");
    }

    private void models(ModelSettings m) {
        m.variant().filter(v -> !VARIANT.matcher(v).matches()).ifPresent(v -> problem("models.variant",
                "expected a weights variant such as fp16 (letters, digits, '-', '_'), got '" + v + "'"));
        if (m.isEmpty()) {
            if (assembly.requireModels()) {
                problem("models.base", "not set; expected " + BASE_EXPECTED);
            }
            return;
        }
        if (m.base().isEmpty()) {
            String setKey = m.imageEncoder().isPresent() ? "models.image_encoder" : m.msAdapter().isPresent()
                    ? "models.ms_adapter" : m.resamplerConfig().isPresent() ? "models.resampler_config"
                    : "models.controlnets";
            problemAt(setKey, "models.base", "not set while other model paths are; expected " + BASE_EXPECTED);
        }
        // paths implied by the base folder are only worth checking when it is one
        Optional<Path> base = m.base().filter(b -> base(b, m.variant()));
        boolean needsImageEncoder = assembly.subjects() && !assembly.provided().contains(ComponentKind.IMAGE_ENCODER);
        if (m.imageEncoder().isPresent()) {
            weightsFolder("models.image_encoder", m.imageEncoder().get(), m.variant(), IMAGE_ENCODER_EXPECTED);
        } else if (needsImageEncoder && base.isPresent()) {
            Path implied = base.get().resolve(ModelSettings.IMAGE_ENCODER_KEY);
            if (Files.isDirectory(implied)) {
                weightsFolder("models.image_encoder", implied, m.variant(), IMAGE_ENCODER_EXPECTED);
            } else {
                problemAt("models.base", "models.image_encoder", "not set, and the base folder has no "
                        + implied.getFileName() + "/; expected " + IMAGE_ENCODER_EXPECTED);
            }
        }
        boolean needsAdapter = assembly.subjects() && !(assembly.provided().contains(ComponentKind.SUBJECT_RESAMPLER)
                && assembly.provided().contains(ComponentKind.ATTENTION_PROCESSOR));
        if (m.msAdapter().isPresent()) {
            if (checks.file("models.ms_adapter", m.msAdapter().get(),
                    "MS-Diffusion's ms_adapter.bin (torch checkpoint)")) {
                checkpoint("models.ms_adapter", m.msAdapter().get());
            }
        } else if (needsAdapter && base.isPresent()) {
            Path implied = base.get().resolve("ms_adapter.bin");
            if (Files.isRegularFile(implied)) {
                checkpoint("models.base", implied);
            } else {
                problemAt("models.base", "models.ms_adapter", "not set, and the base folder has no ms_adapter.bin; "
                        + "expected the path of MS-Diffusion's ms_adapter.bin (torch checkpoint)");
            }
        }
        m.resamplerConfig().ifPresent(f -> checks.file("models.resampler_config", f, "the resampler settings (JSON)"));
        m.controlnets().forEach((type, folder) -> {
            String key = Schema.child("models.controlnets", type);
            if (!CONTROL_TYPE.matcher(type).matches()) {
                problem(key, "expected a control type (lower-case letters, digits, '-', '_'), e.g. canny");
            }
            weightsFolder(key, folder, m.variant(), "a ControlNet folder (diffusers ControlNetModel: config.json "
                    + "and weights)");
        });
    }

    /** Checks the base folder and its components; whether it is a diffusers pipeline folder at all. */
    private boolean base(Path base, Optional<String> variant) {
        if (!Files.isDirectory(base)) {
            problem("models.base", base + (Files.exists(base) ? " is not a folder" : " does not exist")
                    + "; expected " + BASE_EXPECTED);
            return false;
        }
        if (!Files.isRegularFile(base.resolve("model_index.json"))) {
            problem("models.base", base + " has no model_index.json; expected " + BASE_EXPECTED);
            return false;
        }
        DiffusersPipelineFolder pipeline;
        try {
            pipeline = DiffusersPipelineFolder.open(base);
        } catch (RuntimeException e) {
            problem("models.base", e.getMessage());
            return false;
        }
        for (String component : pipeline.components().keySet()) {
            Path folder = base.resolve(component);
            if (!Files.isDirectory(folder)) {
                problem("models.base", "component '" + component + "' is listed in " + base.resolve("model_index.json")
                        + " but its folder " + folder + " is missing");
            } else if (Files.isRegularFile(folder.resolve("config.json"))) {
                weights("models.base", folder, variant);
            }
        }
        return true;
    }

    private void weightsFolder(String key, Path folder, Optional<String> variant, String expected) {
        if (!Files.isDirectory(folder)) {
            problem(key, folder + (Files.exists(folder) ? " is not a folder" : " does not exist") + "; expected "
                    + expected);
        } else if (!Files.isRegularFile(folder.resolve("config.json"))) {
            problem(key, folder + " has no config.json; expected " + expected);
        } else {
            weights(key, folder, variant);
        }
    }

    private void weights(String key, Path folder, Optional<String> variant) {
        WeightFile weights;
        try {
            weights = WeightFile.find(folder, variant);
        } catch (IllegalArgumentException e) {
            problem(key, e.getMessage());
            return;
        }
        checkpoint(key, weights.path());
    }

    /**
     * Opens a checkpoint, which reads its header (a safetensors header, a sharded index and its shards' headers, a
     * torch checkpoint's pickle through the restricted unpickler) and no tensor: a corrupt or truncated file is then a
     * problem of the profile, not of the first generation that loads it (released encoders and denoisers load late).
     */
    private void checkpoint(String key, Path file) {
        try {
            TensorSource.open(file).close();
        } catch (IOException e) {
            problem(key, "cannot read " + file + ": " + e.getMessage());
        } catch (RuntimeException e) {
            problem(key, e.getMessage());
        }
    }

    private void components(ComponentSettings c) {
        for (Map.Entry<ComponentKind, String> e : c.ids().entrySet()) {
            ComponentKind kind = e.getKey();
            boolean used = assembly.subjects()
                    || (kind != ComponentKind.IMAGE_ENCODER && kind != ComponentKind.SUBJECT_RESAMPLER);
            if (used && !assembly.provided().contains(kind)) {
                registered(Profile.keyOf(kind), kind, e.getValue());
            }
        }
        AttentionSettings a = c.attention();
        if (assembly.subjects() && !assembly.provided().contains(ComponentKind.ATTENTION_PROCESSOR)) {
            registered("components.attention.cross", ComponentKind.ATTENTION_PROCESSOR, a.cross());
        }
        registered("components.attention.self", ComponentKind.ATTENTION_PROCESSOR, a.self());
        assembly.uses().forEach(u -> registered(u.source(), "", u.kind(), u.id()));
        a.layers().forEach((pattern, id) -> {
            String key = Schema.child("components.attention.layers", pattern);
            try {
                Pattern.compile(pattern);
            } catch (PatternSyntaxException x) {
                problem(key, "expected a regular expression over dotted layer names, got '" + pattern + "': "
                        + x.getDescription());
            }
            registered(key, ComponentKind.ATTENTION_PROCESSOR, id);
        });
    }

    private void registered(String key, ComponentKind kind, String id) {
        registered(tree.origin(key, ProfileResolver.DEFAULTS_SOURCE), key, kind, id);
    }

    private void registered(String source, String key, ComponentKind kind, String id) {
        Set<String> ids = new TreeSet<>(registry.ids(kind));
        ids.addAll(assembly.extraIds().getOrDefault(kind, Set.of()));
        if (!ids.contains(id)) {
            String kindName = kind.name().toLowerCase(Locale.ROOT).replace('_', ' ');
            problems.add(new ProfileProblem(source, key, "no installed plugin provides the " + kindName + " '" + id
                    + "'" + Suggestions.didYouMean(id, ids) + " (expected one of " + (ids.isEmpty() ? "none installed"
                    : String.join(", ", ids)) + ")"));
        }
    }

    private void defaults(RequestDefaults d) {
        try {
            d.request("").build();
        } catch (InvalidRequestException e) {
            for (FieldError f : e.errors()) {
                problem(REQUEST_FIELDS.getOrDefault(f.field(), "defaults"), f.message());
            }
        }
        registered("defaults.scheduler", ComponentKind.SCHEDULER, d.scheduler());
    }

    private void problem(String key, String message) {
        checks.problem(key, message);
    }

    /** A problem of {@code key} caused by the value of {@code originKey}, whose source it names. */
    private void problemAt(String originKey, String key, String message) {
        checks.problemAt(originKey, key, message);
    }
}

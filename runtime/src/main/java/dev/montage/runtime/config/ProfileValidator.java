package dev.montage.runtime.config;

import dev.montage.api.ConfigurationException;
import dev.montage.api.FieldError;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.Recipe;
import dev.montage.api.spi.Suggestions;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.registry.SlotOptions;
import dev.montage.runtime.weights.DiffusersPipelineFolder;
import dev.montage.runtime.weights.TensorSource;
import dev.montage.runtime.weights.WeightFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Collectors;

/**
 * The checks of a bound profile that need more than its shape: device and dtype names, the weight folders and files
 * (present, with weights whose headers read as a checkpoint, without reading a tensor), component ids against the
 * registry, request defaults. Adds every problem, never stops at the first.
 */
final class ProfileValidator {
    private static final Pattern CONTROL_TYPE = Pattern.compile("[a-z0-9][a-z0-9_-]*");
    private static final Pattern VARIANT = Pattern.compile("[A-Za-z0-9_-]+");
    private static final Map<String, String> REQUEST_FIELDS = Map.of("width", "defaults.width", "height",
            "defaults.height", "steps", "defaults.steps", "guidanceScale", "defaults.guidance", "imageScale",
            "defaults.scale", "numImages", "defaults.count", "scheduler", "defaults.scheduler", "guidanceRescale",
            "defaults.guidance_rescale");

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
        models(p);
        components(p.components());
        options(p);
        defaults(p.defaults());
        pipeline(p.pipeline());
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

    private void models(Profile p) {
        ModelSettings m = p.models();
        m.variant().filter(v -> !VARIANT.matcher(v).matches()).ifPresent(v -> problem("models.variant",
                "expected a weights variant such as fp16 (letters, digits, '-', '_'), got '" + v + "'"));
        Map<String, ModelFile> declared = registry.modelFiles();
        m.files().keySet().stream().filter(k -> !declared.containsKey(k)).forEach(k -> problem(
                Schema.child("models", k), "no installed component reads a model '" + k + "'"
                        + Suggestions.didYouMean(k, declared.keySet()) + " (expected base, config, variant, controlnets or "
                        + "one of " + String.join(", ", declared.keySet()) + ")"));
        for (int i = 0; i < m.loras().size(); i++) {
            LoraSettings lora = m.loras().get(i);
            String key = "models.loras[" + i + "]";
            String expected = "expected a LoRA (.safetensors)";
            lora.path().ifPresentOrElse(path -> {
                if (!Files.isRegularFile(path)) {
                    problem(key + ".path", path + (Files.exists(path) ? " is not a file" : " does not exist") + "; "
                            + expected);
                }
            }, () -> problem(key + ".path", "not set; " + expected));
            lora.scale().filter(s -> !Double.isFinite(s)).ifPresent(s -> problem(key + ".scale",
                    "expected a number, got " + s));
        }
        Collection<ModelFile> used = usedFiles(p);
        String baseExpected = "a diffusers pipeline folder (model_index.json" + used.stream()
                .filter(f -> f.folder() && f.required() && !m.files().containsKey(f.key()))
                .map(f -> ", " + f.defaultPath() + "/").collect(Collectors.joining()) + ")";
        if (m.isEmpty()) {
            if (assembly.requireModels()) {
                problem("models.base", "not set; expected " + baseExpected + ", or models.random");
            }
            return;
        }
        m.random().ifPresent(name -> randomModel(p, m, name));
        if (m.base().isEmpty() && m.random().isEmpty()) {
            String setKey = m.files().keySet().stream().findFirst().map(k -> Schema.child("models", k))
                    .orElse("models.controlnets");
            problemAt(setKey, "models.base", "not set while other model paths are; expected " + baseExpected);
        }
        m.config().filter(c -> !Files.isDirectory(c)).ifPresent(c -> problem("models.config", c
                + (Files.exists(c) ? " is not a folder" : " does not exist")
                + "; expected a folder laid out as a diffusers model folder"));
        boolean singleFile = m.base().filter(Files::isRegularFile).isPresent();
        if (singleFile) {
            // the components map a single-file base, and the keys it lacks are resolved, when they are built
            checkpoint("models.base", m.base().get());
        }
        // paths implied by the base folder are only worth checking when it is one
        Optional<DiffusersPipelineFolder> base = singleFile ? Optional.empty()
                : m.base().flatMap(b -> base(b, m.variant(), baseExpected));
        for (ModelFile f : used) {
            String key = Schema.child("models", f.key());
            Path explicit = m.files().get(f.key());
            if (explicit != null) {
                modelFile(key, key, explicit, f, m.variant());
            } else if (base.isPresent() && !base.get().components().containsKey(f.defaultPath())) {
                // the components model_index.json lists are checked with the base folder
                Path implied = m.base().get().resolve(f.defaultPath());
                if (Files.exists(implied)) {
                    modelFile("models.base", key, implied, f, m.variant());
                } else if (f.required()) {
                    problemAt("models.base", key, "not set, and the base folder has no " + f.defaultPath()
                            + (f.folder() ? "/" : "") + "; expected the path of " + f.description());
                }
            }
        }
        m.controlnets().forEach((type, folder) -> {
            String key = Schema.child("models.controlnets", type);
            if (!CONTROL_TYPE.matcher(type).matches()) {
                problem(key, "expected a control type (lower-case letters, digits, '-', '_'), e.g. canny");
            }
            if (Files.isRegularFile(folder) && registry.singleFileLayouts().containsKey(ModelPaths.CONTROLNET_KEY)) {
                // a component maps the file when it is built, with the base model's configuration
                checkpoint(key, folder);
            } else {
                weightsFolder(key, folder, m.variant(), "a ControlNet folder (diffusers ControlNetModel: config.json "
                        + "and weights)");
            }
        });
    }

    /** A random model instead of a base: one the recipe declares, and no base or base configuration beside it. */
    private void randomModel(Profile p, ModelSettings m, String name) {
        m.base().ifPresent(b -> problem("models.random", "set beside models.base in the same layer; expected one "
                + "of them (a random model is a whole base model)"));
        m.config().ifPresent(c -> problem("models.random", "set beside models.config; a random model brings its "
                + "own configuration"));
        List<String> recipes = registry.ids(ComponentKind.RECIPE);
        Optional<String> recipe = p.components().recipe().or(() -> recipes.size() == 1
                ? Optional.of(recipes.get(0)) : Optional.empty());
        if (recipe.isEmpty()) {
            problem("models.random", "a random model is the recipe's; choose one of " + recipes
                    + " with components.recipe");
        } else if (recipes.contains(recipe.get())) {
            try {
                List<String> names = RandomModel.of(registry, recipe).names();
                if (!names.contains(name)) {
                    problem("models.random", "'" + name + "' is not a random model of " + recipe.get()
                            + "; expected one of " + String.join(", ", names) + Suggestions.didYouMean(name, names));
                }
            } catch (ConfigurationException e) {
                problem("models.random", e.getMessage());
            }
        }
    }

    /**
     * The model files of the components this profile assembles: each slot's chosen or recipe's component (the subject
     * slots only with subjects, none that the application provides), the attention processors and the default
     * scheduler.
     * Ids that are not installed are the components check's problem, and add nothing here.
     */
    private Collection<ModelFile> usedFiles(Profile p) {
        Optional<Recipe> recipe = p.recipe(registry);
        Map<ComponentKind, List<String>> slots = new LinkedHashMap<>(p.componentsBySlot(recipe));
        if (!assembly.subjects()) {
            slots.remove(ComponentKind.IMAGE_ENCODER);
            slots.remove(ComponentKind.SUBJECT_RESAMPLER);
            slots.put(ComponentKind.ATTENTION_PROCESSOR, p.attentionOutsideSubjects(recipe));
        }
        assembly.provided().forEach(slots::remove);
        // the attention processors' files come last, after those of the components they serve
        List<String> attention = slots.remove(ComponentKind.ATTENTION_PROCESSOR);
        if (attention != null) {
            slots.put(ComponentKind.ATTENTION_PROCESSOR, attention);
        }
        Map<String, ModelFile> files = new LinkedHashMap<>();
        slots.forEach((kind, ids) -> ids.stream().filter(registry.ids(kind)::contains)
                .forEach(id -> registry.factory(kind, id, Object.class).modelFiles()
                        .forEach(f -> files.putIfAbsent(f.key(), f))));
        return files.values();
    }

    /** Checks a model file or folder a component reads. */
    private void modelFile(String originKey, String key, Path path, ModelFile f, Optional<String> variant) {
        if (f.folder() && Files.isRegularFile(path) && registry.singleFileLayouts().containsKey(f.key())) {
            checkpoint(key, path);
        } else if (f.folder()) {
            if (!Files.isDirectory(path)) {
                problemAt(originKey, key, path + (Files.exists(path) ? " is not a folder" : " does not exist")
                        + "; expected " + f.description());
            } else if (Files.isRegularFile(path.resolve("config.json"))) {
                weights(key, path, variant);
            }
        } else if (!Files.isRegularFile(path)) {
            problemAt(originKey, key, path + (Files.exists(path) ? " is not a file" : " does not exist")
                    + "; expected " + f.description());
        } else if (!path.getFileName().toString().endsWith(".json")) {
            checkpoint(key, path);
        }
    }

    /** Checks the base folder and its components; the folder when it is a diffusers pipeline folder at all. */
    private Optional<DiffusersPipelineFolder> base(Path base, Optional<String> variant, String expected) {
        if (!Files.isDirectory(base)) {
            problem("models.base", base + (Files.exists(base) ? " is not a folder" : " does not exist")
                    + "; expected " + expected);
            return Optional.empty();
        }
        if (!Files.isRegularFile(base.resolve("model_index.json"))) {
            problem("models.base", base + " has no model_index.json; expected " + expected);
            return Optional.empty();
        }
        DiffusersPipelineFolder pipeline;
        try {
            pipeline = DiffusersPipelineFolder.open(base);
        } catch (RuntimeException e) {
            problem("models.base", e.getMessage());
            return Optional.empty();
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
        return Optional.of(pipeline);
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
        c.recipe().ifPresent(id -> registered("components.recipe", ComponentKind.RECIPE, id));
        AttentionSettings a = c.attention();
        if (assembly.subjects() && !assembly.provided().contains(ComponentKind.ATTENTION_PROCESSOR)) {
            a.cross().ifPresent(id -> registered("components.attention.cross", ComponentKind.ATTENTION_PROCESSOR, id));
        }
        a.self().ifPresent(id -> registered("components.attention.self", ComponentKind.ATTENTION_PROCESSOR, id));
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

    /**
     * Each slot's options against what its components declare: every installed scheduler receives the scheduler's,
     * and an instance receives none (one given for the cross-attention layers leaves the other layers' processors).
     */
    private void options(Profile p) {
        Optional<Recipe> recipe = p.recipe(registry);
        Map<ComponentKind, List<String>> slots = p.componentsBySlot(recipe);
        p.options().byKind().forEach((kind, given) -> {
            boolean instance = assembly.provided().contains(kind);
            List<String> receivers = switch (kind) {
                case SCHEDULER -> registry.ids(kind);
                case ATTENTION_PROCESSOR -> instance ? p.attentionOutsideSubjects(recipe) : slots.get(kind);
                default -> instance ? List.of() : slots.get(kind);
            };
            SlotOptions.check(registry, kind, receivers, given).forEach(x -> problem(x.key(), x.message()));
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
        if (!(d.guidanceRescale() >= 0 && d.guidanceRescale() <= 1)) {
            problem("defaults.guidance_rescale", "must be in [0, 1] (0 for none), got " + d.guidanceRescale());
        }
        try {
            d.request("").build();
        } catch (InvalidRequestException e) {
            for (FieldError f : e.errors()) {
                problem(REQUEST_FIELDS.getOrDefault(f.field(), "defaults"), f.message());
            }
        }
        registered("defaults.scheduler", ComponentKind.SCHEDULER, d.scheduler());
    }

    private void pipeline(PipelineSettings pipeline) {
        PipelineSettings.warmUpProblem(pipeline.warmUp()).ifPresent(m -> problem("pipeline.warm_up", m));
    }

    private void problem(String key, String message) {
        checks.problem(key, message);
    }

    /** A problem of {@code key} caused by the value of {@code originKey}, whose source it names. */
    private void problemAt(String originKey, String key, String message) {
        checks.problemAt(originKey, key, message);
    }
}

package dev.montage.runtime.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.SingleFileLayout;
import dev.montage.api.spi.Options;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.weights.CheckpointWeights;
import dev.montage.runtime.weights.DiffusersPipelineFolder;
import dev.montage.runtime.weights.JsonFiles;
import dev.montage.runtime.weights.LocalModelFolder;
import dev.montage.runtime.weights.LoraWeights;
import dev.montage.runtime.weights.MappedModelFolder;
import dev.montage.runtime.weights.SingleFile;
import dev.montage.runtime.weights.StagingBuffer;
import dev.montage.runtime.weights.TensorSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The {@link ComponentContext} of components built from {@link ModelPaths} on one engine. Opens each folder
 * and checkpoint once and keeps them mapped until {@link #close()}. A model key whose path is a file (the base model
 * being one, or the key's own path) is a view of that file that the component of the key maps
 * ({@link SingleFileLayout}), with the configuration of the key's folder in the base or configuration folder. The
 * weights of a model key that LoRAs adapt come with their modules applied ({@link #applyLoras}).
 * Weights of all its folders and checkpoints are converted through one staging buffer, which {@link #loadFinished()} frees.
 */
public final class FolderComponentContext implements ComponentContext, AutoCloseable {
    /** Prefix of an option in a getter's errors; the host reports given options by their full keys before. */
    private static final String OPTIONS_PATH = "options";

    private final MontageEngine engine;
    private final ModelPaths paths;
    private final NDManager manager;
    private final Options options;
    private final Map<String, ModelFolder> folders = new HashMap<>();
    private final Map<Path, SingleFile> files = new HashMap<>();
    private final Map<String, SingleFileLayout> layouts;
    /** By model key, its published configuration files (file name → values). */
    private final Function<String, Map<String, ModelConfig>> published;
    /** The model keys whose published configuration was taken, for a refusal's advice. */
    private final Set<String> publishedTaken = new TreeSet<>();
    private final Map<String, TensorSource> checkpoints = new HashMap<>();
    private final Map<Path, TensorSource> loraFiles = new HashMap<>();
    private final Map<Path, TensorSource> folderFiles = new HashMap<>();
    /** By model key, the LoRA modules applied to each of its tensors. */
    private Map<String, Map<String, List<LoraWeights.Applied>>> loras = Map.of();
    private final ModelConfig pipelineConfig;
    private final StagingBuffer staging = new StagingBuffer();
    private final WeightManagers weights = new WeightManagers();

    /**
     * @param options the options its components get (none for a context that is only a base of
     *                {@link #withOptions} views)
     */
    public FolderComponentContext(MontageEngine engine, ModelPaths paths, Map<String, String> options) {
        this(engine, paths, options, Map.of());
    }

    /**
     * @param layouts the layout of each model key whose component can read it from a file of another layout
     */
    public FolderComponentContext(MontageEngine engine, ModelPaths paths, Map<String, String> options,
            Map<String, SingleFileLayout> layouts) {
        this(engine, paths, options, layouts, key -> Map.of());
    }

    /**
     * @param layouts   the layout of each model key whose component can read it from a file of another layout
     *                  ({@link SingleFileLayout#singleFileKeys()} and {@link SingleFileLayout#componentFileKeys()})
     * @param published the published configuration files of a model key by file name (none: empty), taken where the
     *                  base model is a single file and no configuration folder is given
     */
    public FolderComponentContext(MontageEngine engine, ModelPaths paths, Map<String, String> options,
            Map<String, SingleFileLayout> layouts, Function<String, Map<String, ModelConfig>> published) {
        this.engine = engine;
        this.layouts = Map.copyOf(layouts);
        this.published = published;
        this.paths = paths;
        this.options = Options.of(OPTIONS_PATH, options);
        this.manager = engine.manager().newSubManager();
        this.pipelineConfig = Stream.of(paths.base(), paths.config()).flatMap(Optional::stream)
                .filter(b -> Files.isRegularFile(b.resolve("model_index.json"))).findFirst()
                .map(b -> new ModelConfig(b.resolve("model_index.json").toString(),
                        DiffusersPipelineFolder.open(b).settings()))
                .orElseGet(() -> new ModelConfig("(no base model)", Map.of()));
    }

    @Override
    public Device device() {
        return engine.device();
    }

    @Override
    public ComputeDType dtype() {
        return engine.computeDType();
    }

    @Override
    public Kernels kernels() {
        return engine.kernels();
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public synchronized ModelFolder model(String key) {
        ModelFolder folder = folders.computeIfAbsent(key, k -> {
            Optional<ModelFolder> mapped = mapped(k);
            if (mapped.isPresent()) {
                return mapped.get();
            }
            if (path(k).isEmpty() && publishedServes()) {
                Map<String, ModelConfig> files = published.apply(k);
                if (!files.isEmpty()) {
                    return new PublishedModelFolder(paths.base().orElseThrow(), k, files);
                }
            }
            Path path = resolve(k);
            if (!Files.isDirectory(path)) {
                throw new IllegalArgumentException("model '" + k + "': " + path + " is not a folder");
            }
            return new LocalModelFolder(path, paths.variant(), engine.device(), engine.computeDType(),
                    engine.kernels(), staging);
        });
        Map<String, List<LoraWeights.Applied>> applied = loras.get(key);
        return applied == null ? folder : new AdaptedFolder(folder, applied);
    }

    /** The key's view of a weights file, where its path or the base model is one that its component can map. */
    private Optional<ModelFolder> mapped(String key) {
        SingleFileLayout layout = layoutOf(key);
        Path explicit = paths.paths().get(key);
        SingleFile file;
        Path path;
        if (layout != null && explicit != null && Files.isRegularFile(explicit)) {
            path = explicit;
            file = files.computeIfAbsent(path, p -> open(p, Map.of(key, layout)));
        } else if (layout != null && explicit == null && paths.baseIsFile() && layout.singleFileKeys().contains(key)) {
            path = paths.base().orElseThrow();
            Map<String, SingleFileLayout> whole = new TreeMap<>();
            layouts.forEach((k, l) -> {
                if (l.singleFileKeys().contains(k)) {
                    whole.put(k, l);
                }
            });
            file = files.computeIfAbsent(path, p -> open(p, whole));
        } else {
            return Optional.empty();
        }
        TensorSource tensors = file.tensors(key).orElseThrow(() -> new IllegalArgumentException("model '"
                + key + "': " + path + " holds " + String.join(", ", file.keys()) + " but no " + key
                + "; set models." + key + " to " + paths.defaults().getOrDefault(key, key) + " of its own"));
        return Optional.of(new MappedModelFolder(path, file.config(key), paths.configFolder(key),
                new CheckpointWeights(tensors, staging, engine.device(),
                        engine.computeDType(), engine.kernels())));
    }

    /** The layout of a model key: its own, else that of the key it is a typed key of (controlnet.canny). */
    private SingleFileLayout layoutOf(String key) {
        SingleFileLayout own = layouts.get(key);
        if (own != null || key.indexOf('.') < 0) {
            return own;
        }
        String family = key.substring(0, key.indexOf('.'));
        SingleFileLayout layout = layouts.get(family);
        return layout != null && layout.componentFileKeys().contains(family) ? layout : null;
    }

    /** Opens a weights file for these model keys, advising on a refusal that followed published configurations. */
    private SingleFile open(Path file, Map<String, SingleFileLayout> keys) {
        try {
            return SingleFile.open(file, keys, this::configOf);
        } catch (IllegalArgumentException e) {
            if (publishedTaken.isEmpty()) {
                throw e;
            }
            throw new IllegalArgumentException(e.getMessage() + "\nNo models.config is set, so the configuration of "
                    + String.join(", ", publishedTaken) + " is the published one, and the file's shapes do not fit "
                    + "it; set models.config to a folder laid out as a diffusers model that has this model's "
                    + "configuration (" + publishedTaken.stream().map(k -> paths.defaults().getOrDefault(k, k)
                            + "/config.json").reduce((a, b) -> a + ", " + b).orElseThrow()
                    + ", e.g. the diffusers release of the same model)", e);
        }
    }

    /** Whether published configurations stand in for a configuration folder: a single-file base without one. */
    private boolean publishedServes() {
        return paths.baseIsFile() && paths.config().isEmpty();
    }

    /**
     * The configuration of a model key whose weights come from a file: the {@code config.json} of its folder in the
     * base or configuration folder, else what its component makes of the file's tensors (given), else, where
     * published configurations serve, its published one.
     *
     * @param file the tensors of the file (name → shape), or null for the configuration of another key
     */
    private ModelConfig configOf(String key, Map<String, long[]> file) {
        Optional<Path> json = paths.configFolder(key).map(f -> f.resolve("config.json")).filter(Files::isRegularFile);
        if (json.isPresent()) {
            return new ModelConfig(json.get().toString(), JsonFiles.readObject(json.get()));
        }
        SingleFileLayout layout = layoutOf(key);
        if (file != null && layout != null) {
            Optional<ModelConfig> derived = layout.configuration(key, file, k -> configOf(k, null));
            if (derived.isPresent()) {
                return derived.get();
            }
        }
        ModelConfig publishedConfig = publishedServes() ? published.apply(key).get("config.json") : null;
        if (publishedConfig != null) {
            publishedTaken.add(key);
            return publishedConfig;
        }
        throw new IllegalArgumentException("model '" + key + "': a weights file has no "
                + "configuration, and no " + paths.defaults().getOrDefault(key, key) + "/config.json is in "
                + Stream.of(paths.base().filter(Files::isDirectory), paths.config()).flatMap(Optional::stream)
                        .map(Path::toString).reduce((a, b) -> a + " or " + b).orElse("a configuration folder")
                + "; set models.config to a folder laid out as a diffusers model (e.g. the diffusers "
                + "release of the same model)");
    }

    @Override
    public synchronized ModelWeights checkpoint(String key) {
        TensorSource source = checkpoints.computeIfAbsent(key, k -> open("checkpoint '" + k + "'", resolve(k)));
        ModelWeights weights = new CheckpointWeights(source, staging, engine.device(), engine.computeDType(),
                engine.kernels());
        Map<String, List<LoraWeights.Applied>> applied = loras.get(key);
        return applied == null ? weights : new LoraWeights(weights, applied);
    }

    @Override
    public synchronized Map<String, ModelWeights> weightFiles(String key) {
        Optional<Path> folder = path(key);
        if (folder.isEmpty()) {
            return Map.of();
        }
        if (!Files.isDirectory(folder.get())) {
            throw new IllegalArgumentException("models." + key + ": " + folder.get() + " is not a folder; expected a "
                    + "folder of weights files");
        }
        List<Path> weightFiles;
        try (Stream<Path> entries = Files.list(folder.get())) {
            weightFiles = entries.filter(Files::isRegularFile).filter(f -> TensorSource.WEIGHTS_FILE_NAME.matcher(
                    f.getFileName().toString()).matches()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list models." + key + " at " + folder.get(), e);
        }
        Map<String, ModelWeights> byName = new TreeMap<>();
        for (Path file : weightFiles) {
            String name = TensorSource.WEIGHTS_FILE_NAME.matcher(file.getFileName().toString()).replaceFirst("$1");
            TensorSource source = folderFiles.computeIfAbsent(file, f -> open("models." + key, f));
            if (byName.put(name, new CheckpointWeights(source, staging, engine.device(), engine.computeDType(),
                    engine.kernels())) != null) {
                throw new IllegalArgumentException("models." + key + ": " + folder.get() + " has two weights files "
                        + "named '" + name + "'; keep one");
            }
        }
        return byName;
    }

    /** The tensors of a LoRA file, which stays open with this context. */
    synchronized ModelWeights lora(Path file) {
        TensorSource source = loraFiles.computeIfAbsent(file, f -> open("LoRA", f));
        return new CheckpointWeights(source, staging, engine.device(), engine.computeDType(), engine.kernels());
    }

    /**
     * From now on the weights of these model keys come with LoRA modules applied.
     *
     * @param applied by model key, the modules applied to each of its tensors ({@link LoraBinding})
     */
    synchronized void applyLoras(Map<String, Map<String, List<LoraWeights.Applied>>> applied) {
        loras = Map.copyOf(applied);
    }

    private static TensorSource open(String what, Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(what + ": " + file + " is not a file");
        }
        try {
            return TensorSource.open(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + what + " at " + file, e);
        }
    }

    /** A model folder whose weights come with LoRA modules applied. */
    private record AdaptedFolder(ModelFolder folder, Map<String, List<LoraWeights.Applied>> applied)
            implements ModelFolder {
        @Override
        public Path path() {
            return folder.path();
        }

        @Override
        public ModelConfig config() {
            return folder.config();
        }

        @Override
        public ModelConfig json(String fileName) {
            return folder.json(fileName);
        }

        @Override
        public ModelWeights weights() {
            return new LoraWeights(folder.weights(), applied);
        }

        @Override
        public Path file(String name) {
            return folder.file(name);
        }
    }

    /**
     * Frees the staging buffer once the components that are being created have read their weights; a later load
     * (a released component created again) allocates it anew. From now on the weights managers of the components
     * created so far are capped at what they hold ({@link #checkWeights()}).
     */
    public void loadFinished() {
        staging.release();
        weights.seal();
    }

    /**
     * Checks that no component created through {@link #forComponent} holds more arrays in its weights manager than
     * when its load finished: a component keeps its weights there and nothing of a generation.
     *
     * @throws IllegalStateException naming each component that kept arrays, and how many
     */
    public void checkWeights() {
        weights.check();
    }

    @Override
    public Optional<Path> path(String key) {
        return paths.resolve(key);
    }

    @Override
    public ModelConfig pipelineConfig() {
        return pipelineConfig;
    }

    @Override
    public Options options() {
        return options;
    }

    /**
     * A view of this context with other component options: the same engine, model files and weights manager (so
     * what a component loads through it is released with this context).
     */
    public ComponentContext withOptions(Map<String, String> componentOptions) {
        return view(componentOptions, this::manager, null);
    }

    /**
     * A view of this context for one component, with its options and a weights manager of its own (a sub-manager of
     * this context's, released with it), which is capped once the load finishes ({@link #checkWeights()}).
     *
     * @param component how messages name the component, e.g. {@code denoising model 'sdxl-unet'}
     */
    public ComponentContext forComponent(String component, Map<String, String> componentOptions) {
        return view(componentOptions, weights.of(component, manager), null);
    }

    /**
     * As {@link #forComponent(String, Map)} for an attention processor that serves a denoising model with these
     * attention layers ({@link ComponentContext#attentionLayers()}).
     */
    public ComponentContext forAttentionProcessor(String component, Map<String, String> componentOptions,
            List<AttentionLayerSpec> attentionLayers) {
        return view(componentOptions, weights.of(component, manager), List.copyOf(attentionLayers));
    }

    /** @param attentionLayers the denoising model's layers for an attention processor, else null */
    private ComponentContext view(Map<String, String> componentOptions, Supplier<NDManager> weightsManager,
            List<AttentionLayerSpec> attentionLayers) {
        Options own = Options.of(OPTIONS_PATH, componentOptions);
        FolderComponentContext base = this;
        return new ComponentContext() {
            @Override
            public Device device() {
                return base.device();
            }

            @Override
            public ComputeDType dtype() {
                return base.dtype();
            }

            @Override
            public Kernels kernels() {
                return base.kernels();
            }

            @Override
            public NDManager manager() {
                return weightsManager.get();
            }

            @Override
            public ModelFolder model(String key) {
                return base.model(key);
            }

            @Override
            public ModelWeights checkpoint(String key) {
                return base.checkpoint(key);
            }

            @Override
            public Map<String, ModelWeights> weightFiles(String key) {
                return base.weightFiles(key);
            }

            @Override
            public Optional<Path> path(String key) {
                return base.path(key);
            }

            @Override
            public ModelConfig pipelineConfig() {
                return base.pipelineConfig();
            }

            @Override
            public Options options() {
                return own;
            }

            @Override
            public List<AttentionLayerSpec> attentionLayers() {
                return attentionLayers != null ? attentionLayers : ComponentContext.super.attentionLayers();
            }
        };
    }

    private Path resolve(String key) {
        String inside = paths.defaults().getOrDefault(key, key);
        return path(key).orElseThrow(() -> new IllegalArgumentException("no path configured for model '" + key
                + "'" + (paths.baseIsFile()
                        ? ": the base model " + paths.base().orElseThrow() + " is a single-file checkpoint, which "
                                + "holds weights only, no tokenizer or other files, and no installed component "
                                + "publishes '" + inside + "'; set models.config to a folder laid out as a diffusers "
                                + "model that has '" + inside + "/' (e.g. the diffusers release of the same model"
                                + paths.config().map(c -> ", not " + c + ", which has none").orElse("") + ") or"
                        : paths.base().map(b -> " and the base model " + b + " has no '" + inside + "';").orElse(";"))
                + " set models." + key + " in the profile"));
    }

    /** Unmaps every folder and checkpoint and frees the components' weights. */
    @Override
    public synchronized void close() {
        staging.release();
        List<AutoCloseable> all = new ArrayList<>();
        folders.values().stream().filter(AutoCloseable.class::isInstance).map(AutoCloseable.class::cast)
                .forEach(all::add);
        all.addAll(checkpoints.values());
        all.addAll(files.values());
        all.addAll(loraFiles.values());
        all.addAll(folderFiles.values());
        folders.clear();
        checkpoints.clear();
        files.clear();
        loraFiles.clear();
        folderFiles.clear();
        for (AutoCloseable c : all) {
            try {
                c.close();
            } catch (Exception e) {
                // closing read-only mappings cannot lose data; keep closing the rest
            }
        }
        manager.close();
    }
}

package dev.montage.runtime.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.montage.api.ConfigurationException;
import dev.montage.api.PluginException;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionLayout;
import dev.montage.api.spi.AttentionWeightLayout;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.RandomModels;
import dev.montage.api.spi.Recipe;
import dev.montage.api.spi.Suggestions;
import dev.montage.api.spi.WeightLayout;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.JsonFiles;
import dev.montage.runtime.weights.RandomCheckpoint;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.TensorDType;
import dev.montage.runtime.weights.TorchCheckpointWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The random models of a recipe's family ({@link RandomModels}): model folders in the real on-disk formats whose
 * tensors come from the installed components' own {@link WeightLayout}s, so the files match what the components
 * load. The embedded default model ({@code models.random: tiny}) is one of them, written once into a cache folder.
 */
public final class RandomModel {
    /** Marker file saying the weights are random, so that no one mistakes the folder for a real model. */
    public static final String MARKER = "RANDOM_WEIGHTS.txt";
    /** Changes whenever what this class writes for the same template changes, so that older caches are not reused. */
    private static final String WRITER_VERSION = "2";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final ComponentRegistry registry;
    private final String recipeId;
    private final Recipe recipe;
    private final RandomModels models;

    private RandomModel(ComponentRegistry registry, String recipeId) {
        this.registry = registry;
        this.recipeId = recipeId;
        Object factory = registry.factory(ComponentKind.RECIPE, recipeId, Object.class);
        this.recipe = registry.factory(ComponentKind.RECIPE, recipeId, Recipe.class).create(null);
        if (!(factory instanceof RandomModels random)) {
            throw new ConfigurationException(ComponentRegistry.describe(ComponentKind.RECIPE, recipeId)
                    + " declares no random models");
        }
        this.models = random;
    }

    /**
     * The random models of a recipe.
     *
     * @param recipe the recipe's id; empty for the only one installed
     * @throws PluginException        when that recipe is not installed
     * @throws ConfigurationException when none or several are installed (for an empty id), or it declares no random
     *                                models
     */
    public static RandomModel of(ComponentRegistry registry, Optional<String> recipe) {
        List<String> installed = registry.ids(ComponentKind.RECIPE);
        String id = recipe.orElseGet(() -> {
            if (installed.size() != 1) {
                throw new ConfigurationException("random models come from a recipe; choose one of " + installed
                        + " with components.recipe");
            }
            return installed.get(0);
        });
        return new RandomModel(registry, id);
    }

    /**
     * Writes the random model {@code name} of the only installed recipe.
     *
     * @see #write(Path, String, TensorDType, long)
     */
    public static void write(Path folder, String name, TensorDType dtype, long seed, ComponentRegistry registry)
            throws IOException {
        of(registry, Optional.empty()).write(folder, name, dtype, seed);
    }

    /** Montage's cache folder: {@code MONTAGE_HOME} of these variables, else {@code ~/.cache/montage}. */
    public static Path cacheFolder(Map<String, String> environment) {
        String home = environment.get("MONTAGE_HOME");
        return home != null && !home.isBlank() ? Path.of(home)
                : Path.of(System.getProperty("user.home"), ".cache", "montage");
    }

    /**
     * The dtype a random model is stored in where none is asked for: float16 for one whose configuration is the
     * published one (a full-size model), as published weights are; float32 for a small one of the plugin's own.
     *
     * @throws ConfigurationException naming an unknown model
     */
    public TensorDType storage(String name) {
        return template(name).publishedFiles().isEmpty() ? TensorDType.F32 : TensorDType.F16;
    }

    /** The names of the recipe's random models. */
    public List<String> names() {
        return models.randomModels();
    }

    /**
     * Writes a random model folder.
     *
     * @param dtype F32, F16 or BF16 storage
     * @param seed  the weights' seed: the same seed writes the same bytes
     * @throws ConfigurationException naming an unknown model, with the known ones
     * @throws IllegalStateException  when an installed component the recipe names declares no weights of a file
     */
    public void write(Path folder, String name, TensorDType dtype, long seed) throws IOException {
        RandomModels.Template template = template(name);
        Map<String, Map<String, Object>> values = configurationValues(template);
        Files.createDirectories(folder);
        for (WeightLayout layout : layouts()) {
            // e.g. the text encoders write their tokenizer and size their embedding tables to it
            layout.prepareRandomModel(folder, values);
        }
        Map<String, ModelConfig> configs = new LinkedHashMap<>();
        for (Map.Entry<String, Map<String, Object>> e : values.entrySet()) {
            Path target = folder.resolve(e.getKey());
            Files.createDirectories(target.getParent());
            JSON.writeValue(target.toFile(), e.getValue());
            modelKey(e.getKey()).ifPresent(key -> configs.put(key, new ModelConfig(target.toString(), e.getValue())));
        }
        Map<String, Map<String, long[]>> shapes = new LinkedHashMap<>();
        for (WeightLayout layout : layouts()) {
            add(shapes, layout.weightShapes(configs));
        }
        List<AttentionLayerSpec> attentionLayers = attentionLayers(configs);
        for (AttentionWeightLayout layout : attentionLayouts()) {
            add(shapes, layout.weightShapes(attentionLayers));
        }
        for (Map.Entry<String, String> e : template.weightFiles().entrySet()) {
            Map<String, long[]> tensors = shapes.get(e.getKey());
            if (tensors == null) {
                throw new IllegalStateException("no component of " + recipeId + " declares the weights of '"
                        + e.getKey() + "'");
            }
            Path file = folder.resolve(e.getValue());
            Files.createDirectories(file.getParent());
            if (e.getValue().endsWith(".bin")) {
                writeNested(file, tensors, dtype, seed);
            } else {
                RandomCheckpoint.write(file, tensors, dtype, seed);
            }
        }
        Files.writeString(folder.resolve(MARKER), "This " + name + " " + recipeId + " model has RANDOM weights, "
                + "written by Montage. Its images are noise-like; it exists to run and measure the pipeline without "
                + "downloading real weights.\n");
    }

    /**
     * The random model {@code name} in the cache folder, written first (seed 0) if absent. Another process may write
     * the same model at the same time: each writes beside the final place and renames, so a crash or a race never
     * leaves a half model behind. The folder's name changes with the template and the stored dtype, so a changed
     * model is written afresh.
     *
     * @param writing told the folder before a model is written (writing a full-size one takes a while)
     */
    public Path cached(Path cacheFolder, String name, TensorDType dtype, Consumer<Path> writing)
            throws IOException {
        Path folder = folderIn(cacheFolder, name, dtype);
        if (!Files.isRegularFile(folder.resolve(MARKER))) {
            writing.accept(folder);
            Files.createDirectories(folder.getParent());
            Path tmp = Files.createTempDirectory(folder.getParent(), "." + folder.getFileName() + ".tmp");
            try {
                write(tmp, name, dtype, 0);
                try {
                    Files.move(tmp, folder, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
                    if (!Files.isRegularFile(folder.resolve(MARKER))) {
                        throw e;
                    }
                }
            } finally {
                deleteTree(tmp);
            }
        }
        return folder;
    }

    /**
     * The random model {@code name} in the cache folder where {@link #cached} has written it; empty otherwise.
     *
     * @throws ConfigurationException naming an unknown model
     */
    public Optional<Path> cachedIfPresent(Path cacheFolder, String name, TensorDType dtype) {
        Path folder = folderIn(cacheFolder, name, dtype);
        return Files.isRegularFile(folder.resolve(MARKER)) ? Optional.of(folder) : Optional.empty();
    }

    /** Where {@link #cached} keeps the model: its name changes with the template and the stored dtype. */
    private Path folderIn(Path cacheFolder, String name, TensorDType dtype) {
        return cacheFolder.resolve("models").resolve(recipeId + "-" + name + "-"
                + dtype.name().toLowerCase(Locale.ROOT) + "-" + fingerprint(name, dtype));
    }

    /**
     * The values of each configuration file of a random model, by path in its folder.
     *
     * @throws ConfigurationException naming an unknown model
     */
    public Map<String, Map<String, Object>> configurationValues(String name) {
        return configurationValues(template(name));
    }

    private RandomModels.Template template(String name) {
        if (!names().contains(name)) {
            throw new ConfigurationException("unknown random model '" + name + "' of " + recipeId
                    + ", expected one of " + names() + Suggestions.didYouMean(name, names()));
        }
        return models.randomModel(name);
    }

    private Map<String, Map<String, Object>> configurationValues(RandomModels.Template template) {
        Map<String, Map<String, Object>> values = new LinkedHashMap<>();
        template.configurationFiles().forEach((file, url) -> values.put(file, JsonFiles.readObject(url)));
        for (String file : template.publishedFiles()) {
            int slash = file.indexOf('/');
            ModelConfig published = slash < 0 ? null
                    : registry.published(file.substring(0, slash)).get(file.substring(slash + 1));
            if (published == null) {
                throw new IllegalStateException("no installed component publishes " + file + ", which a random "
                        + recipeId + " model takes from its published configuration");
            }
            values.put(file, new LinkedHashMap<>(published.asMap()));
        }
        return values;
    }

    /** The model key of a configuration file: its folder for {@code <key>/config.json}, else a top-level file's name. */
    private static Optional<String> modelKey(String file) {
        int slash = file.indexOf('/');
        if (slash > 0) {
            return file.endsWith("/config.json") ? Optional.of(file.substring(0, slash)) : Optional.empty();
        }
        return Optional.of(file.endsWith(".json") ? file.substring(0, file.length() - ".json".length()) : file);
    }

    private String fingerprint(String name, TensorDType dtype) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            RandomModels.Template template = template(name);
            sha.update(JSON.writeValueAsBytes(List.of(WRITER_VERSION, dtype.name(), configurationValues(template),
                    template.weightFiles())));
            return HexFormat.of().formatHex(sha.digest()).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void add(Map<String, Map<String, long[]>> shapes, Map<String, Map<String, long[]>> more) {
        more.forEach((key, tensors) -> shapes.computeIfAbsent(key, k -> new LinkedHashMap<>()).putAll(tensors));
    }

    /** The layouts of the recipe's components and conditioner. */
    private List<WeightLayout> layouts() {
        List<Object> factories = new ArrayList<>();
        recipe.components().forEach((kind, id) -> factories.add(registry.factory(kind, id, Object.class)));
        factories.add(registry.factory(ComponentKind.CONDITIONER, recipe.conditioner(), Object.class));
        return instances(factories, WeightLayout.class);
    }

    /** The layouts of the recipe's attention processors that bring weights per denoiser layer. */
    private List<AttentionWeightLayout> attentionLayouts() {
        return instances(Stream.concat(recipe.subjectAttention().values().stream(),
                recipe.attention().values().stream()).distinct()
                .<Object>map(id -> registry.factory(ComponentKind.ATTENTION_PROCESSOR, id, Object.class)).toList(),
                AttentionWeightLayout.class);
    }

    /** The attention layers of the recipe's denoising model under these configurations. */
    private List<AttentionLayerSpec> attentionLayers(Map<String, ModelConfig> configs) {
        String id = recipe.components().get(ComponentKind.DENOISING_MODEL);
        if (registry.factory(ComponentKind.DENOISING_MODEL, id, Object.class) instanceof AttentionLayout layout) {
            return layout.attentionLayers(configs);
        }
        throw new IllegalStateException(ComponentRegistry.describe(ComponentKind.DENOISING_MODEL, id)
                + " does not declare its attention layers, so its adapters' weights cannot be laid out");
    }

    private static <T> List<T> instances(List<Object> factories, Class<T> type) {
        return factories.stream().filter(type::isInstance).map(type::cast).toList();
    }

    /** A torch zip checkpoint with the names nested at their first dot. */
    private static void writeNested(Path file, Map<String, long[]> tensors, TensorDType dtype, long seed)
            throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        // the values are independent of each other: produced on every core, kept in the checkpoint's order
        List<RawTensor> values = tensors.entrySet().parallelStream()
                .map(e -> RandomCheckpoint.tensor(e.getKey(), e.getValue(), dtype, seed)).toList();
        for (RawTensor tensor : values) {
            String name = tensor.name();
            int dot = name.indexOf('.');
            if (dot < 0) {
                root.put(name, new TorchCheckpointWriter.Parameter(tensor));
            } else {
                @SuppressWarnings("unchecked")
                Map<String, Object> group = (Map<String, Object>) root.computeIfAbsent(name.substring(0, dot),
                        k -> new LinkedHashMap<String, Object>());
                group.put(name.substring(dot + 1), tensor);
            }
        }
        TorchCheckpointWriter.write(file, root);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

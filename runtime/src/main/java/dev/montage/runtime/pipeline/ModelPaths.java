package dev.montage.runtime.pipeline;

import dev.montage.api.spi.ModelFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where a pipeline's weights are: the base model folder and explicit paths by model key, plus the weights variant to
 * prefer. A key without an explicit path is its declared default inside the base folder (the components declare
 * their {@link ModelFile}s), else a folder or file of the key's name there.
 *
 * <p>The base may also be one file that holds the weights of several components in another layout (a single-file
 * checkpoint, which the components map themselves: {@link dev.montage.api.spi.SingleFileLayout}); the configuration
 * files, tokenizers and the other keys' folders then come from {@code config}, a folder laid out as a base folder.
 *
 * @param base     the base model folder (a diffusers pipeline folder) or single-file checkpoint, if any
 * @param paths    explicit paths by model key
 * @param variant  e.g. {@code fp16}
 * @param defaults where each declared model key is inside the base folder
 * @param config   a folder laid out as a base folder, whose files serve where the base has none (configuration files
 *                 and tokenizers of a single-file base)
 */
public record ModelPaths(Optional<Path> base, Map<String, Path> paths, Optional<String> variant,
        Map<String, String> defaults, Optional<Path> config) {

    /** The model key of ControlNets, whose typed keys hold the ControlNet of one control type. */
    public static final String CONTROLNET_KEY = "controlnet";
    /** Model keys {@code controlnet.<type>} hold the ControlNet folder or file of a control type. */
    public static final String CONTROLNET_KEY_PREFIX = CONTROLNET_KEY + ".";

    public ModelPaths {
        base = Objects.requireNonNullElse(base, Optional.empty());
        paths = Map.copyOf(paths);
        variant = Objects.requireNonNullElse(variant, Optional.empty());
        defaults = Map.copyOf(defaults);
        config = Objects.requireNonNullElse(config, Optional.empty());
    }

    public ModelPaths(Optional<Path> base, Map<String, Path> paths, Optional<String> variant) {
        this(base, paths, variant, Map.of(), Optional.empty());
    }

    /** A base model folder and nothing else. */
    public static ModelPaths of(Path folder) {
        return new ModelPaths(Optional.of(folder), Map.of(), Optional.empty());
    }

    /** The same paths with one key set. */
    public ModelPaths with(String key, Path path) {
        Map<String, Path> p = new LinkedHashMap<>(paths);
        p.put(key, path);
        return new ModelPaths(base, p, variant, defaults, config);
    }

    /** The same paths, with the defaults the given declarations make for keys that have none yet. */
    public ModelPaths withDefaults(Collection<ModelFile> files) {
        Map<String, String> d = new LinkedHashMap<>(defaults);
        files.forEach(f -> d.putIfAbsent(f.key(), f.defaultPath()));
        return new ModelPaths(base, paths, variant, d, config);
    }

    /** The same paths with a configuration folder. */
    public ModelPaths withConfig(Path folder) {
        return new ModelPaths(base, paths, variant, defaults, Optional.of(folder));
    }

    /**
     * The path of a model key: explicit, else its default in the base folder where that exists, else in the
     * configuration folder.
     */
    public Optional<Path> resolve(String key) {
        Path explicit = paths.get(key);
        if (explicit != null) {
            return Optional.of(explicit);
        }
        return implied(key).filter(Files::exists).findFirst();
    }

    /** Whether the base is a single file rather than a folder. */
    public boolean baseIsFile() {
        return base.filter(Files::isRegularFile).isPresent();
    }

    /**
     * The folder a model key's configuration files are in when its weights come from a file: its default in the base
     * folder or the configuration folder, whichever exists.
     */
    public Optional<Path> configFolder(String key) {
        return implied(key).filter(Files::isDirectory).findFirst();
    }

    private Stream<Path> implied(String key) {
        String inside = defaults.getOrDefault(key, key);
        return Stream.of(base.filter(Files::isDirectory), config).flatMap(Optional::stream).map(b -> b.resolve(inside));
    }
}

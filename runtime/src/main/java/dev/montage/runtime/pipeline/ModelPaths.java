package dev.montage.runtime.pipeline;

import dev.montage.api.spi.ModelFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a pipeline's weights are: the base model folder and explicit paths by model key, plus the weights variant to
 * prefer. A key without an explicit path is its declared default inside the base folder (the components declare
 * their {@link ModelFile}s), else a folder or file of the key's name there.
 *
 * @param base     the base model folder (a diffusers pipeline folder), if any
 * @param paths    explicit paths by model key
 * @param variant  e.g. {@code fp16}
 * @param defaults where each declared model key is inside the base folder
 */
public record ModelPaths(Optional<Path> base, Map<String, Path> paths, Optional<String> variant,
        Map<String, String> defaults) {

    /** Model keys {@code controlnet.<type>} hold the ControlNet folder of a control type. */
    public static final String CONTROLNET_KEY_PREFIX = "controlnet.";

    public ModelPaths {
        base = Objects.requireNonNullElse(base, Optional.empty());
        paths = Map.copyOf(paths);
        variant = Objects.requireNonNullElse(variant, Optional.empty());
        defaults = Map.copyOf(defaults);
    }

    public ModelPaths(Optional<Path> base, Map<String, Path> paths, Optional<String> variant) {
        this(base, paths, variant, Map.of());
    }

    /** A base model folder and nothing else. */
    public static ModelPaths of(Path folder) {
        return new ModelPaths(Optional.of(folder), Map.of(), Optional.empty());
    }

    /** The same paths with one key set. */
    public ModelPaths with(String key, Path path) {
        Map<String, Path> p = new LinkedHashMap<>(paths);
        p.put(key, path);
        return new ModelPaths(base, p, variant, defaults);
    }

    /** The same paths, with the defaults the given declarations make for keys that have none yet. */
    public ModelPaths withDefaults(Collection<ModelFile> files) {
        Map<String, String> d = new LinkedHashMap<>(defaults);
        files.forEach(f -> d.putIfAbsent(f.key(), f.defaultPath()));
        return new ModelPaths(base, paths, variant, d);
    }

    /** The path of a model key: explicit, else its default in the base folder where that exists. */
    public Optional<Path> resolve(String key) {
        Path explicit = paths.get(key);
        if (explicit != null) {
            return Optional.of(explicit);
        }
        return base.map(b -> b.resolve(defaults.getOrDefault(key, key))).filter(Files::exists);
    }
}

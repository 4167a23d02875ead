package dev.montage.runtime.pipeline;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a pipeline's weights are: the base SDXL folder (diffusers layout, its components found by name) and
 * explicit paths by model key ({@code image_encoder}, {@code ms_adapter}, {@code resampler_config},
 * {@code controlnet.canny}, or any base component to override), plus the weights variant to prefer.
 *
 * @param base     the diffusers pipeline folder, if any
 * @param paths    explicit paths by model key
 * @param variant  e.g. {@code fp16}
 */
public record ModelPaths(Optional<Path> base, Map<String, Path> paths, Optional<String> variant) {

    public ModelPaths {
        base = Objects.requireNonNullElse(base, Optional.empty());
        paths = Map.copyOf(paths);
        variant = Objects.requireNonNullElse(variant, Optional.empty());
    }

    /**
     * The layout of an MS-Diffusion model folder as Montage writes its embedded default and as the golden fixtures
     * are laid out: a diffusers folder that also holds {@code image_encoder/}, {@code ms_adapter.bin} and
     * optionally {@code resampler_config.json} and {@code controlnet/}.
     */
    public static ModelPaths of(Path folder) {
        Map<String, Path> p = new LinkedHashMap<>();
        p.put("image_encoder", folder.resolve("image_encoder"));
        p.put("ms_adapter", folder.resolve("ms_adapter.bin"));
        if (folder.resolve("resampler_config.json").toFile().isFile()) {
            p.put("resampler_config", folder.resolve("resampler_config.json"));
        }
        return new ModelPaths(Optional.of(folder), p, Optional.empty());
    }

    /** The same paths with one key set. */
    public ModelPaths with(String key, Path path) {
        Map<String, Path> p = new LinkedHashMap<>(paths);
        p.put(key, path);
        return new ModelPaths(base, p, variant);
    }
}

package dev.montage.runtime.config;

import dev.montage.runtime.pipeline.ModelPaths;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Profile section {@code models}: where the weights are. With no path at all, the {@code montage} command uses its
 * embedded default model ({@code random: tiny}).
 *
 * @param base        the base model: a diffusers pipeline folder, or a single-file checkpoint that the installed
 *                    components read ({@link dev.montage.api.spi.SingleFileLayout})
 * @param config      a folder laid out as a base folder whose configuration files, tokenizers and other folders serve
 *                    where the base has none (those of a single-file base)
 * @param random      instead of a base: a random model of the recipe ({@link dev.montage.api.spi.RandomModels}, e.g.
 *                    {@code tiny}, the embedded default model), written once into Montage's cache folder; its
 *                    images are noise-like, for trying and testing without weights
 * @param variant     weights variant to prefer where a folder has it, e.g. {@code fp16}
 * @param controlnets ControlNet folder by control type ({@code canny}, {@code depth}, {@code pose}, ...)
 * @param loras       LoRAs applied to the models they adapt when those are loaded
 * @param files       the other keys: a model file or folder by the key a component declares it under
 *                    ({@link dev.montage.api.spi.ModelFile}), e.g. {@code image_encoder}; unset keys are their
 *                    defaults inside the base folder
 */
public record ModelSettings(Optional<Path> base, Optional<Path> config, Optional<String> random,
        Optional<String> variant,
        Map<String, Path> controlnets, List<LoraSettings> loras, @Schema.Rest Map<String, Path> files) {

    public ModelSettings {
        base = Objects.requireNonNullElse(base, Optional.empty());
        config = Objects.requireNonNullElse(config, Optional.empty());
        random = Objects.requireNonNullElse(random, Optional.empty());
        variant = Objects.requireNonNullElse(variant, Optional.empty());
        controlnets = Collections.unmodifiableMap(new LinkedHashMap<>(controlnets));
        loras = List.copyOf(loras);
        files = Collections.unmodifiableMap(new LinkedHashMap<>(files));
    }

    /** Whether no model is configured (the variant and LoRAs alone do not count). */
    public boolean isEmpty() {
        return base.isEmpty() && random.isEmpty() && files.isEmpty() && controlnets.isEmpty();
    }

    /** The same settings with another base folder or single-file checkpoint instead of a random model. */
    public ModelSettings withBase(Path folder) {
        return new ModelSettings(Optional.of(folder), config, Optional.empty(), variant, controlnets, loras, files);
    }

    /**
     * The paths a pipeline is built from: the base folder, then every explicit path.
     *
     * @throws IllegalStateException when no base folder is configured
     */
    public ModelPaths toModelPaths() {
        Map<String, Path> paths = new LinkedHashMap<>(files);
        controlnets.forEach((type, folder) -> paths.put(ModelPaths.CONTROLNET_KEY_PREFIX + type, folder));
        return new ModelPaths(Optional.of(base.orElseThrow(() -> new IllegalStateException("models.base is not set"))),
                paths, variant, Map.of(), config);
    }
}

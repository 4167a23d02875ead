package dev.montage.runtime.weights;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A model component whose weights are a view of a file of another layout ({@link MappedTensorSource}) and whose
 * configuration files come from elsewhere (a folder laid out as the component's own, or the component's published
 * configuration).
 */
public final class MappedModelFolder implements ModelFolder {
    private final Path file;
    private final ModelConfig config;
    private final Optional<Path> configFolder;
    private final ModelWeights weights;

    /**
     * @param file         the weights file
     * @param config       the component's configuration
     * @param configFolder the folder of its other files (e.g. a scheduler or preprocessor JSON), if any
     * @param weights      the component's view of the file
     */
    public MappedModelFolder(Path file, ModelConfig config, Optional<Path> configFolder, ModelWeights weights) {
        this.file = file;
        this.config = config;
        this.configFolder = configFolder;
        this.weights = weights;
    }

    /** The weights file. */
    @Override
    public Path path() {
        return file;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public ModelConfig json(String fileName) {
        return new ModelConfig(file(fileName).toString(), JsonFiles.readObject(file(fileName)));
    }

    @Override
    public ModelWeights weights() {
        return weights;
    }

    @Override
    public Path file(String name) {
        Path found = configFolder.map(f -> f.resolve(name)).filter(Files::isRegularFile)
                .orElseThrow(() -> new IllegalArgumentException("the weights file " + file + " comes without '" + name
                        + "'" + configFolder.map(f -> " and " + f + " has none").orElse("")
                        + "; set models.config to a folder laid out as a diffusers model folder that has it"));
        return found;
    }
}

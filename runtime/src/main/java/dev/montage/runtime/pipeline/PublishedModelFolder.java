package dev.montage.runtime.pipeline;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model key that a single-file base model lacks (e.g. its scheduler), served by the configuration files that an
 * installed component publishes for it ({@link dev.montage.api.spi.PublishedConfiguration}): JSON files only.
 */
final class PublishedModelFolder implements ModelFolder {
    private final Path base;
    private final String key;
    private final Map<String, ModelConfig> files;

    /**
     * @param base  the single-file base model the key stands beside
     * @param files the published files by name
     */
    PublishedModelFolder(Path base, String key, Map<String, ModelConfig> files) {
        this.base = base;
        this.key = key;
        this.files = Map.copyOf(files);
    }

    /** The base model file. */
    @Override
    public Path path() {
        return base;
    }

    @Override
    public ModelConfig config() {
        return json("config.json");
    }

    @Override
    public ModelConfig json(String fileName) {
        ModelConfig config = files.get(fileName);
        if (config == null) {
            throw missing(fileName);
        }
        return config;
    }

    @Override
    public ModelWeights weights() {
        throw missing("weights");
    }

    @Override
    public Path file(String name) {
        throw missing(name);
    }

    private IllegalArgumentException missing(String what) {
        return new IllegalArgumentException("model '" + key + "': the base model " + base + " is a single-file "
                + "checkpoint and the published configuration of '" + key + "' has " + files.keySet() + " but no '"
                + what + "'; set models.config to a folder laid out as a diffusers model that has '" + key + "/'");
    }
}

package dev.montage.runtime.weights;

import ai.djl.Device;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A model component folder on local disk. {@code config.json} and the weights are read on first use; the
 * weights file stays memory-mapped and the staging buffer allocated until {@link #close()}.
 */
public final class LocalModelFolder implements ModelFolder, AutoCloseable {
    private final Path path;
    private final Optional<String> variant;
    private final Device device;
    private final ComputeDType dtype;
    private final Kernels kernels;
    private final StagingBuffer staging;
    private ModelConfig config;
    private TensorSource source;
    private ModelWeights weights;

    /**
     * @param path    the component folder
     * @param variant the weights variant to prefer, e.g. {@code fp16}
     * @param device  where weights are placed
     * @param dtype   the compute dtype
     * @param kernels the host kernels (bf16 conversion)
     */
    public LocalModelFolder(Path path, Optional<String> variant, Device device, ComputeDType dtype, Kernels kernels) {
        this(path, variant, device, dtype, kernels, new StagingBuffer());
    }

    /**
     * @param staging the buffer converted weights are read through, shared with other folders of the same load
     */
    public LocalModelFolder(Path path, Optional<String> variant, Device device, ComputeDType dtype, Kernels kernels,
            StagingBuffer staging) {
        this.path = path;
        this.staging = staging;
        this.variant = variant;
        this.device = device;
        this.dtype = dtype;
        this.kernels = kernels;
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public synchronized ModelConfig config() {
        if (config == null) {
            config = json("config.json");
        }
        return config;
    }

    @Override
    public ModelConfig json(String fileName) {
        Path file = path.resolve(fileName);
        return new ModelConfig(file.toString(), JsonFiles.readObject(file));
    }

    @Override
    public synchronized ModelWeights weights() {
        if (weights == null) {
            WeightFile file = WeightFile.find(path, variant);
            try {
                source = file.open();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file.path() + ": " + e.getMessage(), e);
            }
            weights = new CheckpointWeights(source, staging, device, dtype, kernels);
        }
        return weights;
    }

    @Override
    public Path file(String name) {
        Path file = path.resolve(name);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("model folder " + path + " has no file '" + name + "'");
        }
        return file;
    }

    @Override
    public synchronized void close() {
        staging.release();
        if (source != null) {
            source.close();
            source = null;
            weights = null;
        }
    }
}

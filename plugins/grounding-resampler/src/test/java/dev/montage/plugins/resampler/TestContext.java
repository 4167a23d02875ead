package dev.montage.plugins.resampler;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.weights.CheckpointWeights;
import dev.montage.runtime.weights.TorchCheckpointSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A component context over an engine with configured checkpoint files and paths, as the host would give a
 * factory; closing it releases the weights and the open checkpoints.
 */
final class TestContext implements ComponentContext, AutoCloseable {
    private final MontageEngine engine;
    private final NDManager manager;
    private final Map<String, Path> checkpoints;
    private final Map<String, Path> paths;
    private final List<TorchCheckpointSource> opened = new ArrayList<>();

    TestContext(MontageEngine engine, Map<String, Path> checkpoints, Map<String, Path> paths) {
        this.engine = engine;
        this.manager = engine.manager().newSubManager();
        this.checkpoints = checkpoints;
        this.paths = paths;
    }

    /** The golden model's {@code ms_adapter.bin}, with {@code resampler_config} set when a file is given. */
    static TestContext golden(MontageEngine engine, Path resamplerConfig) {
        Path adapter = Golden.model().resolve("ms_adapter.bin");
        return new TestContext(engine, Map.of(MsDiffusionResamplerFactory.CHECKPOINT_KEY, adapter),
                resamplerConfig == null ? Map.of() : Map.of(MsDiffusionResamplerFactory.CONFIG_KEY, resamplerConfig));
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
    public ModelFolder model(String key) {
        throw new IllegalArgumentException("no model folder '" + key + "' in this test context");
    }

    @Override
    public synchronized ModelWeights checkpoint(String key) {
        Path file = checkpoints.get(key);
        if (file == null) {
            throw new IllegalArgumentException("no checkpoint '" + key + "' in this test context");
        }
        try {
            TorchCheckpointSource source = TorchCheckpointSource.open(file);
            opened.add(source);
            return new CheckpointWeights(source, engine.device(), engine.computeDType(), engine.kernels());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public Optional<Path> path(String key) {
        return Optional.ofNullable(paths.get(key));
    }

    @Override
    public ModelConfig pipelineConfig() {
        return new ModelConfig("test context", Map.of());
    }

    @Override
    public Map<String, String> options() {
        return Map.of();
    }

    @Override
    public synchronized void close() {
        manager.close();
        opened.forEach(TorchCheckpointSource::close);
    }
}

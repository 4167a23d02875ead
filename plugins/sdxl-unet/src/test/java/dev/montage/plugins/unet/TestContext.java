package dev.montage.plugins.unet;

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
import dev.montage.runtime.weights.LocalModelFolder;
import dev.montage.runtime.weights.TorchCheckpointSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A component context over an engine and the golden model (its {@code unet} folder and {@code ms_adapter.bin}),
 * as the host would give a factory; closing it releases the weights and the open files.
 */
final class TestContext implements ComponentContext, AutoCloseable {
    private final MontageEngine engine;
    private final NDManager manager;
    private final Path adapter;
    private final Map<String, String> options;
    private final List<AutoCloseable> opened = new ArrayList<>();

    TestContext(MontageEngine engine, Path adapter, Map<String, String> options) {
        this.engine = engine;
        this.manager = engine.manager().newSubManager();
        this.adapter = adapter;
        this.options = options;
    }

    /** The golden model with its adapter and the given options. */
    static TestContext golden(MontageEngine engine, Map<String, String> options) {
        return new TestContext(engine, Golden.model().resolve("ms_adapter.bin"), options);
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
        LocalModelFolder folder = new LocalModelFolder(Golden.model().resolve(key), Optional.empty(), engine.device(),
                engine.computeDType(), engine.kernels());
        opened.add(folder);
        return folder;
    }

    @Override
    public synchronized ModelWeights checkpoint(String key) {
        if (!key.equals("ms_adapter")) {
            throw new IllegalArgumentException("no checkpoint '" + key + "' in this test context");
        }
        try {
            TorchCheckpointSource source = TorchCheckpointSource.open(adapter);
            opened.add(source);
            return new CheckpointWeights(source, engine.device(), engine.computeDType(), engine.kernels());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public Optional<Path> path(String key) {
        return Optional.empty();
    }

    @Override
    public ModelConfig pipelineConfig() {
        return new ModelConfig("test context", Map.of());
    }

    @Override
    public Map<String, String> options() {
        return options;
    }

    @Override
    public synchronized void close() {
        manager.close();
        for (AutoCloseable c : opened) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot close " + c, e);
            }
        }
    }
}

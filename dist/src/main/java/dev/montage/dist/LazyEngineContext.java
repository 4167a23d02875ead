package dev.montage.dist;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.Options;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A component context that starts the engine only when a component first asks for the device, kernels or models,
 * so that preprocessors that compute nothing on tensors (canny, pose, a depth map) run without loading PyTorch.
 */
final class LazyEngineContext implements ComponentContext, AutoCloseable {
    private final String device;
    private final ModelPaths paths;
    private MontageEngine engine;
    private FolderComponentContext context;

    /**
     * @param device     the engine's device, when one is started
     * @param modelPaths model files by key
     */
    LazyEngineContext(String device, Map<String, String> modelPaths) {
        this.device = device;
        Map<String, Path> p = new LinkedHashMap<>();
        modelPaths.forEach((k, v) -> p.put(k, Path.of(v)));
        this.paths = new ModelPaths(Optional.empty(), p, Optional.empty());
    }

    private synchronized FolderComponentContext started() {
        if (context == null) {
            engine = MontageEngine.start(EngineConfig.of(device, "float32"));
            context = new FolderComponentContext(engine, paths, Map.of());
        }
        return context;
    }

    @Override
    public Device device() {
        return started().device();
    }

    @Override
    public ComputeDType dtype() {
        return started().dtype();
    }

    @Override
    public Kernels kernels() {
        return started().kernels();
    }

    @Override
    public NDManager manager() {
        return started().manager();
    }

    @Override
    public ModelFolder model(String key) {
        return started().model(key);
    }

    @Override
    public ModelWeights checkpoint(String key) {
        return started().checkpoint(key);
    }

    @Override
    public Optional<Path> path(String key) {
        return Optional.ofNullable(paths.paths().get(key));
    }

    @Override
    public ModelConfig pipelineConfig() {
        return new ModelConfig("(no base model)", Map.of());
    }

    @Override
    public Options options() {
        return Options.NONE;
    }

    @Override
    public synchronized void close() {
        if (context != null) {
            context.close();
            engine.close();
        }
    }
}

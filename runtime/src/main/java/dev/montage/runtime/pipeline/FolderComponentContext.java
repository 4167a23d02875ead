package dev.montage.runtime.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.Options;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.weights.CheckpointWeights;
import dev.montage.runtime.weights.DiffusersPipelineFolder;
import dev.montage.runtime.weights.LocalModelFolder;
import dev.montage.runtime.weights.StagingBuffer;
import dev.montage.runtime.weights.TensorSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@link ComponentContext} of components built from {@link ModelPaths} on one engine. Opens each folder
 * and checkpoint once and keeps them mapped until {@link #close()}. Weights of all its folders and checkpoints are
 * converted through one staging buffer, which {@link #loadFinished()} frees.
 */
public final class FolderComponentContext implements ComponentContext, AutoCloseable {
    /** Prefix of an option in a getter's errors; the host reports given options by their full keys before. */
    private static final String OPTIONS_PATH = "options";

    private final MontageEngine engine;
    private final ModelPaths paths;
    private final NDManager manager;
    private final Options options;
    private final Map<String, LocalModelFolder> folders = new HashMap<>();
    private final Map<String, TensorSource> checkpoints = new HashMap<>();
    private final ModelConfig pipelineConfig;
    private final StagingBuffer staging = new StagingBuffer();

    /**
     * @param options the options its components get (none for a context that is only a base of
     *                {@link #withOptions} views)
     */
    public FolderComponentContext(MontageEngine engine, ModelPaths paths, Map<String, String> options) {
        this.engine = engine;
        this.paths = paths;
        this.options = Options.of(OPTIONS_PATH, options);
        this.manager = engine.manager().newSubManager();
        this.pipelineConfig = paths.base()
                .filter(b -> Files.isRegularFile(b.resolve("model_index.json")))
                .map(b -> new ModelConfig(b.resolve("model_index.json").toString(),
                        DiffusersPipelineFolder.open(b).settings()))
                .orElseGet(() -> new ModelConfig("(no base model)", Map.of()));
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
        return folders.computeIfAbsent(key, k -> {
            Path folder = resolve(k);
            if (!Files.isDirectory(folder)) {
                throw new IllegalArgumentException("model '" + k + "': " + folder + " is not a folder");
            }
            return new LocalModelFolder(folder, paths.variant(), engine.device(), engine.computeDType(),
                    engine.kernels(), staging);
        });
    }

    @Override
    public synchronized ModelWeights checkpoint(String key) {
        TensorSource source = checkpoints.computeIfAbsent(key, k -> {
            Path file = resolve(k);
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("checkpoint '" + k + "': " + file + " is not a file");
            }
            try {
                return TensorSource.open(file);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read checkpoint '" + k + "' at " + file, e);
            }
        });
        return new CheckpointWeights(source, staging, engine.device(), engine.computeDType(), engine.kernels());
    }

    /**
     * Frees the staging buffer once the components that are being created have read their weights; a later load
     * (a released component created again) allocates it anew.
     */
    public void loadFinished() {
        staging.release();
    }

    @Override
    public Optional<Path> path(String key) {
        if (paths.paths().containsKey(key)) {
            return Optional.of(paths.paths().get(key));
        }
        return paths.base().map(b -> b.resolve(key)).filter(Files::exists);
    }

    @Override
    public ModelConfig pipelineConfig() {
        return pipelineConfig;
    }

    @Override
    public Options options() {
        return options;
    }

    /**
     * A view of this context with other component options: the same engine, model files and weights manager (so
     * what a component loads through it is released with this context).
     */
    public ComponentContext withOptions(Map<String, String> componentOptions) {
        Options own = Options.of(OPTIONS_PATH, componentOptions);
        FolderComponentContext base = this;
        return new ComponentContext() {
            @Override
            public Device device() {
                return base.device();
            }

            @Override
            public ComputeDType dtype() {
                return base.dtype();
            }

            @Override
            public Kernels kernels() {
                return base.kernels();
            }

            @Override
            public NDManager manager() {
                return base.manager();
            }

            @Override
            public ModelFolder model(String key) {
                return base.model(key);
            }

            @Override
            public ModelWeights checkpoint(String key) {
                return base.checkpoint(key);
            }

            @Override
            public Optional<Path> path(String key) {
                return base.path(key);
            }

            @Override
            public ModelConfig pipelineConfig() {
                return base.pipelineConfig();
            }

            @Override
            public Options options() {
                return own;
            }
        };
    }

    private Path resolve(String key) {
        return path(key).orElseThrow(() -> new IllegalArgumentException("no path configured for model '" + key
                + "'" + paths.base().map(b -> " and the base model " + b + " has no '" + key + "'").orElse("")
                + "; set models." + key + " in the profile"));
    }

    /** Unmaps every folder and checkpoint and frees the components' weights. */
    @Override
    public synchronized void close() {
        staging.release();
        List<AutoCloseable> all = new ArrayList<>(folders.values());
        all.addAll(checkpoints.values());
        folders.clear();
        checkpoints.clear();
        for (AutoCloseable c : all) {
            try {
                c.close();
            } catch (Exception e) {
                // closing read-only mappings cannot lose data; keep closing the rest
            }
        }
        manager.close();
    }
}

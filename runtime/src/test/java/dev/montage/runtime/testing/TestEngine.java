package dev.montage.runtime.testing;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.LocalModelFolder;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One float32 CPU engine shared by the tests of a JVM (starting PyTorch once), and model folders and pipelines on
 * it, as the golden fixtures were computed.
 */
public final class TestEngine {
    private static MontageEngine engine;

    private TestEngine() {
    }

    /** The shared engine, started on first use. */
    public static synchronized MontageEngine engine() {
        if (engine == null) {
            engine = MontageEngine.start(EngineConfig.of("cpu", "float32"));
        }
        return engine;
    }

    /** The engine's root manager; tests take sub-managers of it. */
    public static NDManager manager() {
        return engine().manager();
    }

    public static Kernels kernels() {
        return engine().kernels();
    }

    public static ComputeDType dtype() {
        return engine().computeDType();
    }

    /**
     * Runs {@code body} with PyTorch's intra-op thread count (process-wide) set to {@code threads}, then restores
     * the count: oneDNN kernels partition work, and choose weight layouts, by it.
     */
    public static void withIntraOpThreads(int threads, Runnable body) {
        int before = JniUtils.getNumThreads();
        JniUtils.setNumThreads(threads);
        try {
            body.run();
        } finally {
            JniUtils.setNumThreads(before);
        }
    }

    /**
     * A pipeline on the shared engine, from the built-in defaults with {@code models.base} set to {@code model} (a
     * diffusers pipeline folder), assembled from the components of {@code registry}.
     */
    public static MontagePipeline.Builder pipeline(ComponentRegistry registry, Path model) {
        return MontagePipeline.builder().registry(registry).engine(engine()).setting("models.base", model);
    }

    /** A model folder on the shared engine (default weights variant). */
    public static LocalModelFolder folder(Path path) {
        MontageEngine e = engine();
        return new LocalModelFolder(path, Optional.empty(), e.device(), e.computeDType(), e.kernels());
    }
}

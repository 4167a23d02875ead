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
 * One engine shared by the tests of a JVM (starting PyTorch once), and model folders and pipelines on it: float32 on
 * the CPU, as the golden fixtures were computed, unless the system properties {@value #DEVICE_PROPERTY} and
 * {@value #DTYPE_PROPERTY} name another device or compute dtype (the golden cases are so run on a GPU).
 */
public final class TestEngine {
    /** System property naming the tests' device: {@code cpu} (default), {@code cuda}, {@code cuda:N}. */
    public static final String DEVICE_PROPERTY = "montage.test.device";
    /** System property naming the tests' compute dtype: {@code float32} (default), {@code float16}, {@code bfloat16}. */
    public static final String DTYPE_PROPERTY = "montage.test.dtype";
    private static final int REDUCED_PRECISION_UNITS = 10;
    private static MontageEngine engine;

    private TestEngine() {
    }

    /** The shared engine, started on first use. */
    public static synchronized MontageEngine engine() {
        if (engine == null) {
            engine = MontageEngine.start(EngineConfig.of(testDevice(), testDType().configName()));
        }
        return engine;
    }

    /** The compute dtype the tests' engine runs in, read from {@value #DTYPE_PROPERTY} without starting it. */
    public static ComputeDType testDType() {
        return ComputeDType.parse(System.getProperty(DTYPE_PROPERTY, "float32"));
    }

    /**
     * The bound of a comparison with a golden tensor on the tests' engine. In float32 it is the tolerance the case
     * states (which 30 times the float32-against-float64 drift sets). In float16 and bf16 a whole generation drifts
     * from the float32 reference by up to about 4 units of the dtype's precision (ε = 2^-10 and 2^-7) times the tensor's
     * largest magnitude (measured on the CPU: final latents 0.026–0.042 in float16, 0.18–0.32 in bf16); the bound
     * is 10 of them, and never below the float32 tolerance.
     *
     * @param float32Tolerance the case's tolerance for the tensor
     * @param largestExpected  the largest magnitude among the golden values
     */
    public static double tolerance(double float32Tolerance, double largestExpected) {
        double epsilon = switch (testDType()) {
            case FLOAT32 -> 0;
            case FLOAT16 -> 0x1p-10;
            case BFLOAT16 -> 0x1p-7;
        };
        return Math.max(float32Tolerance, REDUCED_PRECISION_UNITS * epsilon * largestExpected);
    }

    /** The device the tests' engine runs on, as {@value #DEVICE_PROPERTY} names it ({@code cpu} by default). */
    public static String testDevice() {
        return System.getProperty(DEVICE_PROPERTY, "cpu");
    }

    /**
     * The largest difference, in levels of any channel of any pixel, between a decoded image and the golden one: 1
     * in float32 (rounding); 4 in float16 and 16 in bf16, where whole generations on the CPU came within 1 and 6.
     */
    public static int imageLevels() {
        return switch (testDType()) {
            case FLOAT32 -> 1;
            case FLOAT16 -> 4;
            case BFLOAT16 -> 16;
        };
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

package dev.montage.dist;

import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

/**
 * Montage's tiny random model, written once per test JVM into a temporary folder, and one pipeline on it (on the
 * shared float32 CPU engine) for every test that needs whole generations.
 */
public final class TinyModel {
    private static Path folder;
    private static ComponentRegistry registry;
    private static MontagePipeline pipeline;

    private TinyModel() {
    }

    /** The folder, written on first use (removed when the JVM exits). */
    public static synchronized Path folder() {
        if (folder == null) {
            try {
                Path dir = Files.createTempDirectory("montage-tiny");
                RandomModel.write(dir, "tiny", TensorDType.F32, 7, registry());
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir)));
                folder = dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return folder;
    }

    /** The classpath registry. */
    public static synchronized ComponentRegistry registry() {
        if (registry == null) {
            registry = ComponentRegistry.fromClasspath(TinyModel.class.getClassLoader());
        }
        return registry;
    }

    /** The shared pipeline; it lives as long as the JVM. */
    public static synchronized MontagePipeline pipeline() {
        if (pipeline == null) {
            pipeline = TestEngine.pipeline(registry(), folder()).build();
        }
        return pipeline;
    }

    /** Whether the folder is marked as holding random weights. */
    public static boolean markedRandom(Path dir) {
        return Files.isRegularFile(dir.resolve(RandomModel.MARKER));
    }

    private static void deleteTree(Path dir) {
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary folder: the system cleans it eventually
        }
    }
}

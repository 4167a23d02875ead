package dev.montage.dist;

import dev.montage.dist.record.ModelHashes;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The model used when no real weights are configured: the {@code tiny} random model, written once into the
 * cache folder ({@code $MONTAGE_HOME}, default {@code ~/.cache/montage}).
 */
final class EmbeddedModel {
    /** Bump when the tiny layout or its writer changes, so old caches are not reused. */
    static final String NAME = "tiny-random-v2";

    private EmbeddedModel() {
    }

    static Path cacheHome() {
        return ModelHashes.cacheFolder();
    }

    /** The embedded model folder, written first if absent; says plainly that its weights are random. */
    static Path ensure(ComponentRegistry registry, PrintWriter err) throws IOException {
        Path folder = cached(NAME, "tiny", TensorDType.F32, registry, err);
        err.println("montage: using the embedded default model " + folder
                + " (RANDOM weights: images show noise, not subjects; configure real weights in a profile, models.base, or with --model)");
        return folder;
    }

    /**
     * A random model of a configuration in the cache folder under {@code name}, written first (seed 0) if absent.
     * Another process may write the same model at the same time: each writes beside the final place and renames,
     * so a crash or a race never leaves a half model behind.
     */
    static Path cached(String name, String configuration, TensorDType dtype, ComponentRegistry registry,
            PrintWriter err) throws IOException {
        Path folder = cacheHome().resolve("models").resolve(name);
        if (!Files.isRegularFile(folder.resolve(RandomModel.MARKER))) {
            err.println("montage: writing the " + configuration + " model with RANDOM weights to " + folder);
            err.flush();
            Files.createDirectories(folder.getParent());
            Path tmp = Files.createTempDirectory(folder.getParent(), name + ".tmp");
            try {
                RandomModel.write(tmp, configuration, dtype, 0, registry);
                try {
                    Files.move(tmp, folder, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
                    if (!Files.isRegularFile(folder.resolve(RandomModel.MARKER))) {
                        throw e;
                    }
                }
            } finally {
                deleteTree(tmp);
            }
        }
        return folder;
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

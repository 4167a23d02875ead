package dev.montage.runtime.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the golden fixtures of the official Python implementation live. They are read in place, never
 * copied into the project; a test that needs them is skipped with "skipped: no golden folder" when the
 * folder is absent.
 */
public final class Golden {
    /** System property naming the golden folder (default {@code ../shared/golden}). */
    public static final String PROPERTY = "montage.golden.dir";

    private Golden() {
    }

    /** The golden folder, or a skipped test when it is absent. */
    public static Path dir() {
        Path dir = Path.of(System.getProperty(PROPERTY, "../shared/golden"));
        assumeTrue(Files.isDirectory(dir.resolve("tiny-sdxl-msd")), "skipped: no golden folder");
        return dir;
    }

    /** The tiny SDXL + MS-Diffusion model folder. */
    public static Path model() {
        return dir().resolve("tiny-sdxl-msd");
    }

    /**
     * A file of the single-file checkpoints (the tiny model in the original layout), or a skipped test where the
     * golden folder was copied without them (the GPU check leaves them out for size).
     */
    public static Path singleFile(String name) {
        Path file = dir().resolve("single-file").resolve(name);
        assumeTrue(Files.isRegularFile(file), "skipped: no single-file checkpoint " + file);
        return file;
    }

    /** A case folder, e.g. {@code single_subject_euler}. */
    public static Path caseDir(String name) {
        return dir().resolve("cases").resolve(name);
    }
}

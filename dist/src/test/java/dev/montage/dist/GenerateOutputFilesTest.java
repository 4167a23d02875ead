package dev.montage.dist;

import static dev.montage.dist.CommandRun.montage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code montage generate} run again into the same folder keeps what it wrote before, under the next numbers. */
class GenerateOutputFilesTest {
    private static final Pattern SEED = Pattern.compile("montage: seed (\\d+)");

    @TempDir
    Path dir;

    /** Runs a one-step generation into {@code out} and returns the file it names on stdout. */
    private Path generate(Path out, List<String> seed) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", TinyModel.folder().toString(), "-p",
                "a cube", "--width", "64", "--height", "64", "--steps", "1", "--device", "cpu", "-o",
                out.toString()));
        args.addAll(seed);
        CommandRun run = montage(args.toArray(String[]::new));
        assertEquals(0, run.code(), run::toString);
        return Path.of(run.out().strip());
    }

    private static String seedOf(Path png) throws IOException {
        return PngRecords.record(png).get("seed").toString();
    }

    @Test
    void aSecondRunKeepsTheFirstResultsAndUsesADrawnSeed() throws Exception {
        Path out = dir.resolve("out");
        CommandRun first = montage("generate", "--model", TinyModel.folder().toString(), "-p", "a cube", "--width",
                "64", "--height", "64", "--steps", "1", "--device", "cpu", "-o", out.toString());
        assertEquals(0, first.code(), first::toString);
        Matcher printed = SEED.matcher(first.err());
        assertTrue(printed.find(), first.err());
        Path firstFile = Path.of(first.out().strip());
        assertEquals(printed.group(1), seedOf(firstFile), "the printed seed is stored");
        assertEquals(out.resolve("00000-" + printed.group(1) + ".png"), firstFile);

        Path second = generate(out, List.of());
        assertNotEquals(seedOf(firstFile), seedOf(second), "a seed drawn for each run");

        Path seeded = generate(out, List.of("--seed", "7"));
        Path again = generate(out, List.of("--seed", "7"));
        assertEquals(out.resolve("00002-7.png"), seeded);
        assertEquals(out.resolve("00003-7.png"), again);
        try (var files = Files.list(out)) {
            assertEquals(4, files.count(), "every run's image is kept");
        }
    }
}

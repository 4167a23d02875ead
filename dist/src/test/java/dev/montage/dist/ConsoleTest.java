package dev.montage.dist;

import static dev.montage.dist.CommandRun.montage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code montage} prints: one line per stage with its time where no terminal watches (a log file gets no
 * {@code \r} frames), frames redrawn in place on a terminal, {@code --quiet}, {@code --version} from the build, the
 * closest option for a misspelt one, and native libraries' noise left out of standard error.
 */
class ConsoleTest {
    @TempDir
    Path dir;

    private CommandRun generate(String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("generate", "--model", TinyModel.folder().toString(),
                "-p", "a cube", "--width", "64", "--height", "64", "--steps", "2", "--device", "cpu", "--seed", "5",
                "-o", dir.resolve("out").toString()));
        args.addAll(List.of(more));
        return montage(args.toArray(String[]::new));
    }

    @Test
    void withoutATerminalEachStageIsOneLineWithItsTime() {
        CommandRun run = generate();
        assertEquals(0, run.code(), run::toString);
        assertFalse(run.err().contains("\r"), "no frames in a log: " + run.err());
        String seconds = " \\d+\\.\\d s";
        for (String line : List.of("montage: seed 5", "montage: loading models" + seconds,
                "montage: encoding prompt" + seconds,
                "montage: denoising 2/2 steps" + seconds + " \\(\\d+\\.\\d\\d s/step\\)",
                "montage: decoding" + seconds)) {
            assertTrue(run.err().matches("(?s)(.*\n)?" + line + "\r?\n.*"), line + " in\n" + run.err());
        }
        assertTrue(run.err().indexOf("encoding prompt") < run.err().indexOf("denoising")
                && run.err().indexOf("denoising") < run.err().indexOf("decoding"), run.err());
    }

    @Test
    void quietPrintsThePathsAlone() {
        CommandRun run = generate("--quiet");
        assertEquals(0, run.code(), run::toString);
        assertEquals("", run.err());
        assertTrue(Files.isRegularFile(Path.of(run.out().strip())), run.out());

        CommandRun both = generate("--quiet", "--verbose");
        assertEquals(2, both.code(), both::toString);
        assertTrue(both.err().contains("--quiet and --verbose"), both.err());
    }

    @Test
    void onATerminalTheRunningStageIsRedrawnInPlaceAndEndsAsItsLine() {
        StringWriter text = new StringWriter();
        long[] now = {0};
        ProgressBar bar = new ProgressBar(new PrintWriter(text), "", true, () -> now[0]);
        bar.onStage("encoding prompt");
        now[0] += 1_500_000_000L;
        bar.onStage("denoising");
        now[0] += 2_000_000_000L;
        bar.onStep(1, 2, Duration.ofSeconds(3));
        now[0] += 2_000_000_000L;
        bar.onStep(2, 2, Duration.ofSeconds(5));
        bar.onStage("decoding");
        now[0] += 500_000_000L;
        bar.finish();
        String nl = System.lineSeparator();
        assertTrue(text.toString().startsWith("\rmontage: encoding prompt...\rmontage: encoding prompt 1.5 s" + nl
                + "\rmontage: denoising...\rmontage: denoising [###############...............] 1/2  2.00 s/step  "
                + "ETA 2 s"), text.toString());
        // a shorter line blanks what is left of the longer frame before it, so no stage runs into another
        String full = "montage: denoising [##############################] 2/2  2.00 s/step  ETA 0 s";
        String done = "montage: denoising 2/2 steps 4.0 s (2.00 s/step)";
        assertTrue(text.toString().contains("\r" + full + "\r" + done + " ".repeat(full.length() - done.length()) + nl),
                text.toString());
        assertTrue(text.toString().endsWith("\rmontage: decoding...\rmontage: decoding 0.5 s" + nl), text.toString());

        StringWriter plain = new StringWriter();
        ProgressBar log = new ProgressBar(new PrintWriter(plain), "", false, () -> now[0]);
        log.onStep(1, 2, Duration.ofSeconds(1));
        now[0] += 1_000_000_000L;
        log.onStep(2, 2, Duration.ofSeconds(2));
        assertEquals("montage: denoising 2/2 steps 2.0 s (1.00 s/step)" + nl, plain.toString(),
                "steps alone (a remote generation) time denoising from the generation's start");

        StringWriter passes = new StringWriter();
        ProgressBar hires = new ProgressBar(new PrintWriter(passes), "", false, () -> now[0]);
        hires.onStage("denoising");
        for (int step = 1; step <= 3; step++) {
            now[0] += 1_000_000_000L;
            hires.onStep(step, 5, Duration.ofSeconds(step));
        }
        hires.onStage("hires denoising");
        now[0] += 4_000_000_000L;
        hires.onStep(4, 5, Duration.ofSeconds(7));
        now[0] += 4_000_000_000L;
        hires.onStep(5, 5, Duration.ofSeconds(11));
        assertEquals("montage: denoising 3/5 steps 3.0 s (1.00 s/step)" + nl + "montage: hires denoising 5/5 steps "
                + "8.0 s (4.00 s/step)" + nl, passes.toString(), "a second pass's steps count on, timed by its own");
    }

    @Test
    void versionComesFromTheBuild() throws Exception {
        CommandRun run = montage("--version");
        assertEquals(0, run.code(), run::toString);
        String first = run.out().lines().findFirst().orElseThrow();
        String version = System.getProperty("montage.project.version");
        assertTrue(first.startsWith("montage " + version), first + " names the project version " + version);
        assertFalse(run.out().contains("development build"), run.out());
        String commit = gitDescribe();
        if (commit != null) {
            // the build and this test may see the working copy with and without changes
            assertTrue(first.matches("montage \\Q" + version + "\\E \\(commit " + commit + "(-dirty)?\\)"), first);
        }
        assertTrue(run.out().contains("plugin API " + dev.montage.api.MontageApi.VERSION), run.out());
    }

    /** The commit of this working copy as the build describes it, or null without git. */
    private static String gitDescribe() throws IOException, InterruptedException {
        try {
            Process git = new ProcessBuilder("git", "describe", "--always", "--dirty", "--abbrev=12")
                    .redirectErrorStream(true).start();
            String out = new String(git.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            return git.waitFor(30, TimeUnit.SECONDS) && git.exitValue() == 0 ? out.replace("-dirty", "") : null;
        } catch (IOException e) {
            return null;
        }
    }

    @Test
    void aMisspeltRequiredOptionIsNamedWithTheClosestOne() {
        CommandRun run = montage("generate", "--promt", "a dog");
        assertEquals(2, run.code(), run::toString);
        assertTrue(run.err().startsWith("Unknown option: '--promt'; did you mean --prompt?"), run.err());
        assertFalse(run.err().contains("Missing required option"), run.err());

        CommandRun other = montage("generate", "-p", "a dog", "--stpes", "3");
        assertEquals(2, other.code(), other::toString);
        assertTrue(other.err().startsWith("Unknown option: '--stpes'; did you mean --steps?"), other.err());
    }

    @Test
    void nativeNoiseIsLeftOutAndCountedWhileEverythingElsePassesAtOnce() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        NoiseFilter filter = new NoiseFilter(NoiseFilter.NATIVE_NOISE, out);
        String cuda = "[main] WARN ai.djl.util.cuda.CudaUtils - Failed to detect GPU count: CUDA driver version is "
                + "insufficient for CUDA runtime version (35)";
        String nnpack = "[W1207 01:26:14.069190979 NNPACK.cpp:57] Could not initialize NNPACK! Reason: Unsupported "
                + "hardware.";
        write(filter, "montage: seed 1\n" + cuda + "\n" + cuda + "\n\rmontage: decoding...");
        assertEquals("montage: seed 1\n\rmontage: decoding...", out.toString(StandardCharsets.ISO_8859_1),
                "a frame without its line end is not held back");
        // a native line arriving in pieces, in the middle of a frame's line
        write(filter, "[W1207 01:26:14.0");
        write(filter, "76502059 NNPACK.cpp:57] Could not initialize NNPACK! Reason: Unsupported hardware.\n");
        write(filter, nnpack + "\n[W1207 other warning]\n");
        filter.end();
        assertEquals("montage: seed 1\n\rmontage: decoding...[W1207 other warning]\n",
                out.toString(StandardCharsets.ISO_8859_1));
        assertEquals(List.of("DJL's CUDA probe, 2 line(s) such as: " + cuda, "PyTorch's NNPACK notice, 2 line(s) such "
                + "as: [W1207 01:26:14.076502059 NNPACK.cpp:57] Could not initialize NNPACK! Reason: Unsupported "
                + "hardware."), filter.report());
    }

    private static void write(NoiseFilter filter, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.ISO_8859_1);
        filter.write(bytes, 0, bytes.length);
    }
}

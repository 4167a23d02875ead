package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.testing.Golden;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code montage preprocess}: each condition alone, and its errors, through the command line. */
class PreprocessCommandTest {
    @TempDir
    Path dir;

    /** Exit code, standard output and standard error of one command line. */
    private record Run(int code, String out, String err) {
    }

    private static Run montage(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Montage.run(args);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    private Path picture() throws IOException {
        BufferedImage image = new BufferedImage(48, 32, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillOval(8, 6, 24, 20);
        g.dispose();
        Path file = dir.resolve("shape.png");
        ImageIO.write(image, "png", file.toFile());
        return file;
    }

    private static RgbImage read(Path png) throws IOException {
        return RgbImage.of(ImageIO.read(png.toFile()), null);
    }

    @Test
    void cannyWritesABinaryEdgeMapOfTheRequestedSizeWithItsParameters() throws IOException {
        Path out = dir.resolve("edges.png");
        Run run = montage("preprocess", "canny", "--image", picture().toString(), "-O", "low=50", "--option",
                "high=120", "--width", "64", "--height", "40", "--out", out.toString());
        assertEquals(0, run.code(), run.err());
        assertEquals(out.toString(), run.out().trim());
        RgbImage edges = read(out);
        assertEquals(64, edges.width());
        assertEquals(40, edges.height());
        int lit = 0;
        for (byte b : edges.pixels()) {
            assertTrue(b == 0 || b == (byte) 255);
            lit += b != 0 ? 1 : 0;
        }
        assertTrue(lit > 0);
        try (InputStream in = Files.newInputStream(out)) {
            assertEquals(Map.of("control", "canny", "source", "shape.png", "low", "50", "high", "120"),
                    PngFiles.readParameters(in));
        }
    }

    @Test
    void thePictureSizeIsTheDefaultOutputSize() throws IOException {
        Path out = dir.resolve("depth.png");
        Run run = montage("preprocess", "depth", "--image", picture().toString(), "-O", "invert=true", "-o",
                out.toString());
        assertEquals(0, run.code(), run.err());
        RgbImage depth = read(out);
        assertEquals(48, depth.width());
        assertEquals(32, depth.height());
        assertEquals(255, depth.get(0, 0, 0), "black background, inverted");
    }

    @Test
    void preprocessNoneWritesThePictureAsItIsResized() throws IOException {
        Path picture = picture();
        Path out = dir.resolve("as-is.png");
        Run run = montage("preprocess", "canny", "--image", picture.toString(), "-O", "preprocess=none", "--width",
                "24", "--height", "20", "--out", out.toString());
        assertEquals(0, run.code(), run.err());
        assertArrayEquals(PilResampler.resize(read(picture), 24, 20, ResampleFilter.LANCZOS).pixels(),
                read(out).pixels());
    }

    @Test
    void poseKeypointsAreDrawnExactlyAsTheReference() throws IOException {
        Path golden = Golden.dir().resolve("inputs/pose");
        Path out = dir.resolve("pose.png");
        Run run = montage("preprocess", "pose", "--keypoints", golden.resolve("wide_768x512.json").toString(),
                "--width", "768", "--height", "512", "--out", out.toString());
        assertEquals(0, run.code(), run.err());
        assertArrayEquals(read(golden.resolve("wide_768x512.png")).pixels(), read(out).pixels());
    }

    @Test
    void errorsNameWhatIsWrong() throws IOException {
        String image = picture().toString();
        String out = dir.resolve("x.png").toString();
        assertError("montage: no plugin provides condition preprocessor 'segmentation'; available: [canny, depth, pose]",
                "preprocess", "segmentation", "--image", image, "--out", out);
        assertError("montage: keypoints " + dir.resolve("none.json") + " does not exist",
                "preprocess", "pose", "--keypoints", dir.resolve("none.json").toString(), "--width", "8", "--height",
                "8", "--out", out);
        assertError("montage: --width and --height are required with --keypoints",
                "preprocess", "pose", "--keypoints", image, "--out", out);
        assertError("montage: --option.low: expected a number in 0..65535, got 'x'; --option.lw: unknown option; did "
                + "you mean low? (expected an option of preprocessor 'canny': low, high, l2, input, resolution)",
                "preprocess", "canny", "--image", image, "-O", "low=x", "-O", "lw=1", "--out", out);
        assertError("montage: --option: low: preprocess=none gives the picture to the ControlNet as it is, so it "
                + "takes no preprocessor options", "preprocess", "canny", "--image", image, "-O", "preprocess=none",
                "-O", "low=50", "--out", out);
        assertError("montage: --option.context: a ControlNet's setting, and montage preprocess runs none",
                "preprocess", "canny", "--image", image, "-O", "context=full", "--out", out);
        assertError("control option 'preprocess' must be auto or none, got 'off' for control 'canny'",
                "preprocess", "canny", "--image", image, "-O", "preprocess=off", "--out", out);
        assertError("given as a data file (" + image + "), which needs its preprocessor: preprocess=none takes a "
                + "picture only", "preprocess", "pose", "--keypoints", image, "--width", "8", "--height", "8", "-O",
                "preprocess=none", "--out", out);
        assertError("montage: --option expects KEY=VALUE, got 'low'",
                "preprocess", "canny", "--image", image, "-O", "low", "--out", out);
        assertError("montage: --keypoints: control type 'canny' takes a picture, not a data file (" + image + ")",
                "preprocess", "canny", "--keypoints", image, "--width", "8", "--height", "8", "--out", out);
        assertError(image + ": malformed JSON at line 1, column ",
                "preprocess", "pose", "--keypoints", image, "--width", "8", "--height", "8", "--out", out);
        assertError("mutually exclusive", "preprocess", "pose", "--keypoints", image, "--image", image, "--out", out);
        assertTrue(Files.notExists(Path.of(out)), "nothing written on errors");
    }

    private static void assertError(String expected, String... args) {
        Run run = montage(args);
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().contains(expected), () -> "expected '" + expected + "' in: " + run.err());
    }
}

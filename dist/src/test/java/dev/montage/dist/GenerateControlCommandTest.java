package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.TensorDType;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code montage generate --control ...} on a tiny random model written by the test. */
class GenerateControlCommandTest {
    @TempDir
    static Path dir;
    private static Path model;
    private static Path edges;

    @BeforeAll
    static void write() throws Exception {
        model = dir.resolve("model");
        RandomModel.write(model, "tiny", TensorDType.F32, 3,
                ComponentRegistry.fromClasspath(GenerateControlCommandTest.class.getClassLoader()));
        edges = dir.resolve("edges.png");
        ImageIO.write(ControlNetBehaviourTest.picture(Color.WHITE), "png", edges.toFile());
    }

    /** Exit code and what the command wrote to stderr. */
    private record Run(int code, String err) {
    }

    private static Run montage(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            int code = Montage.run(args);
            return new Run(code, captured.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void generatesWithTwoControlsAndSavesTheirImages() throws Exception {
        Path out = dir.resolve("out");
        Path controls = dir.resolve("controls");
        Run run = montage("generate", "--model", model.toString(), "-p", "a cube", "--width", "64", "--height", "48",
                "--steps", "2", "--device", "cpu", "-o", out.toString(), "--save-control-images", controls.toString(),
                "--controlnet-context", "full",
                "--control", "type=canny,image=" + edges + ",scale=0.5,end=0.5,preprocess=none",
                "--control", "type=depth,image=" + edges + ",start=0.5,model=" + model.resolve("controlnet"));
        assertEquals(0, run.code(), run.err());
        Path image = out.resolve("montage-0-00.png");
        Map<String, String> parameters;
        try (InputStream in = Files.newInputStream(image)) {
            parameters = PngFiles.readParameters(in);
        }
        assertEquals("type=canny,scale=0.5,start=0.0,end=0.5,context=full,preprocess=none",
                parameters.get("control.0"));
        assertEquals("type=depth,scale=1.0,start=0.5,end=1.0,context=full", parameters.get("control.1"));
        assertEquals(model.resolve("controlnet").toString(), parameters.get("controlnet.depth"));
        for (String name : new String[] {"control-00-canny.png", "control-01-depth.png"}) {
            BufferedImage saved = ImageIO.read(controls.resolve(name).toFile());
            assertEquals(64, saved.getWidth(), name);
            assertEquals(48, saved.getHeight(), name);
        }
    }

    @Test
    void badControlsAreOneLineErrorsNamingThem() {
        Run window = montage("generate", "--model", model.toString(), "-p", "x", "--control",
                "type=canny,image=" + edges + ",start=1.5");
        assertEquals(2, window.code());
        assertTrue(window.err().contains("control.start must be in 0..1, got 1.5 for control 'canny'"), window.err());
        Run noImage = montage("generate", "--model", model.toString(), "-p", "x", "--control", "type=pose");
        assertEquals(2, noImage.code());
        assertTrue(noImage.err().contains("'image=' is required"), noImage.err());
        Run noFolder = montage("generate", "--model", model.toString(), "-p", "x", "--control",
                "type=depth,image=" + edges + ",model=" + dir.resolve("missing"));
        assertEquals(2, noFolder.code());
        assertTrue(noFolder.err().contains("is not a ControlNet folder"), noFolder.err());
        Run context = montage("generate", "--model", model.toString(), "-p", "x", "--controlnet-context", "image");
        assertEquals(2, context.code());
        assertTrue(context.err().contains("ControlNet context must be one of [text-only, full], got 'image'"),
                context.err());
    }
}

package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.TensorDType;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
                "--steps", "2", "--seed", "0", "--device", "cpu", "-o", out.toString(), "--save-control-images",
                controls.toString(),
                "--controlnet-context", "full",
                "--control", "type=canny,image=" + edges + ",scale=0.5,end=0.5,preprocess=none",
                "--control", "type=depth,image=" + edges + ",start=0.5,model=" + model.resolve("controlnet"));
        assertEquals(0, run.code(), run.err());
        Path image = out.resolve("00000-0.png");
        Map<String, String> parameters;
        try (InputStream in = Files.newInputStream(image)) {
            parameters = PngRecords.pipeline(in);
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

    /**
     * One standing person on a 64x48 canvas, in COCO-18 order (nose, neck, right arm, left arm, right leg, left leg,
     * eyes, ears); the left ear is missing (confidence 0).
     */
    static Path keypoints(Path file) throws IOException {
        double[][] joints = {{32, 8}, {32, 14}, {26, 14}, {23, 22}, {21, 30}, {38, 14}, {41, 22}, {43, 30},
            {28, 30}, {27, 38}, {27, 46}, {36, 30}, {37, 38}, {37, 46}, {31, 7}, {33, 7}, {30, 8}, {34, 8}};
        StringBuilder values = new StringBuilder();
        for (int i = 0; i < joints.length; i++) {
            values.append(i == 0 ? "" : ", ").append(joints[i][0]).append(", ").append(joints[i][1])
                    .append(i == joints.length - 1 ? ", 0" : ", 0.9");
        }
        Files.writeString(file, "{\"people\": [{\"pose_keypoints_2d\": [" + values + "]}], "
                + "\"canvas_width\": 64, \"canvas_height\": 48}");
        return file;
    }

    private static int[] pixels(Path png) throws IOException {
        BufferedImage image = ImageIO.read(png.toFile());
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    /** The output folder of a 64x48, 1-step generation of seed 0 with the given {@code --control}s. */
    private static Path generate(String name, String... controls) {
        Path out = dir.resolve(name);
        List<String> args = new ArrayList<>(List.of("generate", "--model", model.toString(), "-p", "a person",
                "--width", "64", "--height", "48", "--steps", "1", "--seed", "0", "--device", "cpu", "-o",
                out.toString(),
                "--save-control-images", out.resolve("controls").toString()));
        for (String control : controls) {
            args.add("--control");
            args.add(control);
        }
        Run run = montage(args.toArray(String[]::new));
        assertEquals(0, run.code(), run.err());
        return out;
    }

    @Test
    void poseKeypointsGenerateExactlyWhatTheirPreprocessedPoseImageDoes() throws Exception {
        Path json = keypoints(dir.resolve("person.json"));
        Path skeleton = dir.resolve("person-pose.png");
        Run preprocess = montage("preprocess", "pose", "--keypoints", json.toString(), "--width", "64", "--height",
                "48", "--out", skeleton.toString());
        assertEquals(0, preprocess.code(), preprocess.err());

        Path fromKeypoints = generate("from-keypoints", "type=pose,keypoints=" + json + ",scale=2");
        Path fromImage = generate("from-image", "type=pose,image=" + skeleton + ",scale=2,preprocess=none");
        Path without = generate("without");

        assertArrayEquals(pixels(skeleton), pixels(fromKeypoints.resolve("controls/control-00-pose.png")),
                "the saved control image is the rendered skeleton");
        assertArrayEquals(pixels(fromImage.resolve("00000-0.png")),
                pixels(fromKeypoints.resolve("00000-0.png")));
        assertFalse(Arrays.equals(pixels(without.resolve("00000-0.png")),
                pixels(fromKeypoints.resolve("00000-0.png"))), "the pose control changes the image");
        try (InputStream in = Files.newInputStream(fromKeypoints.resolve("00000-0.png"))) {
            assertEquals("type=pose,scale=2.0,start=0.0,end=1.0,context=text-only",
                    PngRecords.pipeline(in).get("control.0"));
        }
    }

    @Test
    void badKeypointControlsNameTheSpecOrTheFile() throws IOException {
        Path json = keypoints(dir.resolve("errors.json"));
        assertControlError("give exactly one of 'image=' and 'keypoints='",
                "type=pose,image=" + edges + ",keypoints=" + json);
        assertControlError("--control 'type=pose,scale=1': give exactly one of 'image=' and 'keypoints='",
                "type=pose,scale=1");
        Path missing = dir.resolve("missing.json");
        assertControlError("keypoints " + missing + " does not exist", "type=pose,keypoints=" + missing);
        Path garbled = Files.writeString(dir.resolve("garbled.json"), "{\"people\": [");
        assertControlError(garbled + ": malformed JSON at line 1, column 13: Unexpected end-of-input: expected close "
                + "marker for Array", "type=pose,keypoints=" + garbled);
        assertControlError("controls[0]: given as a data file (" + json + "), which needs its preprocessor",
                "type=pose,keypoints=" + json + ",preprocess=none");
        assertControlError("control type 'canny' takes a picture, not a data file (" + json + ")",
                "type=canny,keypoints=" + json);
    }

    @Test
    void unknownControlTypesAndOptionsAreRefusedByName() {
        assertControlError("controls[0].type: unknown control type 'cany'; did you mean canny? (expected a type with "
                + "an installed preprocessor: canny, depth, pose;", "type=cany,image=" + edges + ",threshold=40");
        assertControlError("controls[0].options.lw: unknown option; did you mean low? (expected an option of "
                + "preprocessor 'canny': low, high, l2, input, resolution)", "type=canny,image=" + edges + ",lw=40");
        assertControlError("controls[0].options: low: preprocess=none gives the picture to the ControlNet as it is, "
                + "so it takes no preprocessor options", "type=canny,image=" + edges + ",preprocess=none,low=40");
    }

    private static void assertControlError(String expected, String control) {
        Run run = montage("generate", "--model", model.toString(), "-p", "x", "--width", "64", "--height", "48",
                "--steps", "1", "--device", "cpu", "-o", dir.resolve("unused").toString(), "--control", control);
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().contains(expected), () -> "expected '" + expected + "' in: " + run.err());
    }

    @Test
    void badControlsAreOneLineErrorsNamingThem() {
        Run window = montage("generate", "--model", model.toString(), "-p", "x", "--control",
                "type=canny,image=" + edges + ",start=1.5");
        assertEquals(2, window.code());
        assertTrue(window.err().contains("control.start must be in 0..1, got 1.5 for control 'canny'"), window.err());
        Run noImage = montage("generate", "--model", model.toString(), "-p", "x", "--control", "type=pose");
        assertEquals(2, noImage.code());
        assertTrue(noImage.err().contains("give exactly one of 'image=' and 'keypoints='"), noImage.err());
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

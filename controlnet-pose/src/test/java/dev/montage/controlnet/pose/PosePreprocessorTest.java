package dev.montage.controlnet.pose;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Options;
import dev.montage.runtime.registry.ComponentRegistry;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class PosePreprocessorTest {
    private final PosePreprocessor pose = new PosePreprocessor();

    /** A standing figure on a 256x256 canvas, every joint present. */
    private static double[] figure() {
        return new double[] {128, 50, 0.9, 128, 75, 0.9, 103, 76, 0.9, 95, 112, 0.9, 91, 148, 0.9, 153, 76, 0.9,
            161, 112, 0.9, 166, 148, 0.9, 112, 150, 0.9, 110, 196, 0.9, 109, 239, 0.9, 143, 150, 0.9, 145, 196, 0.9,
            146, 239, 0.9, 123, 44, 0.9, 133, 44, 0.9, 117, 47, 0.9, 139, 47, 0.9};
    }

    private static byte[] json(String canvas, double[]... people) {
        String list = Arrays.stream(people).map(p -> "{\"pose_keypoints_2d\": ["
                + Arrays.stream(p).mapToObj(Double::toString).collect(Collectors.joining(", ")) + "]}")
                .collect(Collectors.joining(", "));
        return ("{\"people\": [" + list + "]" + canvas + "}").getBytes(StandardCharsets.UTF_8);
    }

    private static final String CANVAS_256 = ", \"canvas_width\": 256, \"canvas_height\": 256";

    private RgbImage render(byte[] data, Map<String, String> options, int width, int height) {
        return RgbImage.of(pose.preprocessData(data, "test.json", Options.of("options", options), width, height),
                null);
    }

    private static int lit(RgbImage image) {
        return (int) IntStream.range(0, image.width() * image.height())
                .filter(i -> image.get(i % image.width(), i / image.width(), 0) != 0
                        || image.get(i % image.width(), i / image.width(), 1) != 0
                        || image.get(i % image.width(), i / image.width(), 2) != 0)
                .count();
    }

    @Test
    void registeredAsThePosePreprocessor() {
        ConditionPreprocessor p = ComponentRegistry.fromClasspath(getClass().getClassLoader())
                .factory(ComponentKind.CONDITION_PREPROCESSOR, "pose", ConditionPreprocessor.class).create(null);
        assertEquals("pose", p.type());
    }

    @Test
    void jointsInTheirColoursOverLimbsDimmedTo60Percent() {
        RgbImage image = render(json(CANVAS_256, figure()), Map.of(), 256, 256);
        assertArrayEquals(new int[] {255, 0, 0}, pixel(image, 128, 50), "nose");
        assertArrayEquals(new int[] {255, 85, 0}, pixel(image, 128, 75), "neck");
        // the middle of the neck-to-right-shoulder limb (limb 1, red dimmed)
        assertArrayEquals(new int[] {153, 0, 0}, pixel(image, 115, 75));
    }

    @Test
    void keypointsAreScaledFromTheirCanvasToTheOutput() {
        RgbImage image = render(json(CANVAS_256, figure()), Map.of(), 512, 384);
        assertArrayEquals(new int[] {255, 0, 0}, pixel(image, 256, 75), "nose at (2 x, 1.5 y)");
        assertArrayEquals(new int[] {0, 255, 85}, pixel(image, 332, 222), "left wrist (166, 148)");
    }

    @Test
    void withoutACanvasSizeCoordinatesAreOutputPixels() {
        assertArrayEquals(render(json(CANVAS_256, figure()), Map.of(), 256, 256).pixels(),
                render(json("", figure()), Map.of(), 256, 256).pixels());
    }

    @Test
    void absentJointsAndTheirLimbsAreNotDrawn() {
        double[] p = figure();
        p[4 * 3 + 2] = 0;      // right wrist: confidence 0
        p[7 * 3 + 2] = -1;     // left wrist: confidence -1
        p[10 * 3 + 2] = 0.05;  // right ankle: weak but present
        RgbImage image = render(json(CANVAS_256, p), Map.of(), 256, 256);
        assertArrayEquals(new int[] {0, 0, 0}, pixel(image, 91, 148), "right wrist");
        assertArrayEquals(new int[] {0, 0, 0}, pixel(image, 166, 148), "left wrist");
        assertArrayEquals(new int[] {0, 170, 255}, pixel(image, 109, 239), "right ankle");
        assertTrue(lit(image) < lit(render(json(CANVAS_256, figure()), Map.of(), 256, 256)));
    }

    @Test
    void peopleAreDrawnInOrder() {
        double[] second = figure();
        for (int k = 0; k < 18; k++) {
            second[3 * k] += 60;
        }
        RgbImage both = render(json(CANVAS_256, figure(), second), Map.of(), 256, 256);
        // the second person's right shoulder (163, 76), orange, lies on the first one's left shoulder limb
        assertArrayEquals(new int[] {255, 170, 0}, pixel(both, 163, 76));
        assertEquals(0, lit(render(json(CANVAS_256), Map.of(), 64, 64)), "no people: black");
    }

    @Test
    void automaticThicknessScalesWithTheResolution() {
        byte[] data = json(CANVAS_256, figure());
        RgbImage auto = render(data, Map.of("stick_width", "auto", "joint_radius", "auto"), 1024, 1024);
        assertArrayEquals(render(data, Map.of("stick_width", "8", "joint_radius", "8"), 1024, 1024).pixels(),
                auto.pixels());
        assertTrue(lit(auto) > lit(render(data, Map.of(), 1024, 1024)));
        assertArrayEquals(render(data, Map.of(), 512, 512).pixels(),
                render(data, Map.of("stick_width", "auto", "joint_radius", "auto"), 512, 512).pixels(),
                "auto is the standard 4 at 512");
    }

    @Test
    void aRenderedPosePicturePassesThroughResized() {
        BufferedImage skeleton = render(json(CANVAS_256, figure()), Map.of(), 256, 256).toBufferedImage();
        RgbImage expected = PilResampler.resize(RgbImage.of(skeleton, null), 128, 96, ResampleFilter.LANCZOS);
        assertArrayEquals(expected.pixels(),
                RgbImage.of(pose.preprocess(skeleton, Options.NONE, 128, 96), null).pixels());
    }

    @Test
    void malformedKeypointsNameTheSource() {
        assertEquals("test.json: malformed JSON at line 1, column 14: Unexpected character (']' (code 93)) in numeric "
                + "value: expected digit (0-9) to follow minus sign, for valid numeric value",
                message(() -> render("{\"people\": [-]}".getBytes(StandardCharsets.UTF_8), Map.of(), 8, 8)));
        assertEquals("test.json: not OpenPose keypoints: expected a JSON object with a 'people' array",
                message(() -> render("[1, 2]".getBytes(StandardCharsets.UTF_8), Map.of(), 8, 8)));
        assertEquals("test.json: people[0] has no 'pose_keypoints_2d' array",
                message(() -> render("{\"people\": [{}]}".getBytes(StandardCharsets.UTF_8), Map.of(), 8, 8)));
        assertEquals("test.json: people[0]: 25 keypoints (OpenPose BODY_25); the ControlNet skeleton needs the 18 "
                + "COCO keypoints (54 numbers)", message(() -> render(json("", new double[75]), Map.of(), 8, 8)));
        assertEquals("test.json: people[1]: 'pose_keypoints_2d' must hold 54 numbers (18 COCO keypoints as x, y, "
                + "confidence), got 3", message(() -> render(json("", figure(), new double[3]), Map.of(), 8, 8)));
        byte[] text = new String(json("", figure()), StandardCharsets.UTF_8).replaceFirst("50\\.0", "\"x\"")
                .getBytes(StandardCharsets.UTF_8);
        assertEquals("test.json: people[0]: 'pose_keypoints_2d'[1] is not a number: \"x\"",
                message(() -> render(text, Map.of(), 8, 8)));
        assertEquals("test.json: 'canvas_width' must be a positive integer, got 0.5",
                message(() -> render(json(", \"canvas_width\": 0.5", figure()), Map.of(), 8, 8)));
    }

    @Test
    void declaredOptionsCheckWhatAControlGives() {
        assertEquals(List.of(new Options.Problem("joint_radius", "expected an integer in 1..1000 or auto, got 'big'"),
                new Options.Problem("stick_width", "expected an integer in 1..1000 or auto, got '0'"),
                new Options.Problem("thickness", "unknown option (expected an option of preprocessor 'pose': "
                        + "stick_width, joint_radius)")),
                Options.check(pose.options(), Map.of("thickness", "2", "stick_width", "0", "joint_radius", "big"),
                        "preprocessor 'pose'"));
        assertEquals(List.of(), Options.check(pose.options(), Map.of("stick_width", "1000", "joint_radius", "auto"),
                "preprocessor 'pose'"));
        assertEquals(List.of(new Options.Problem("stick_width", "expected an integer in 1..1000 or auto, got "
                + "'1001'")), Options.check(pose.options(), Map.of("stick_width", "1001"), "pose"));
        assertEquals("options.stick_width: expected an integer in 1..1000 or auto, got '0'",
                message(() -> render(json(CANVAS_256, figure()), Map.of("stick_width", "0"), 8, 8)));
    }

    @Test
    void jointsOutsideTheCanvasAreClipped() {
        double[] p = figure();
        p[0] = -3;    // nose left of the canvas
        p[1] = 300;   // and below it
        RgbImage image = render(json(CANVAS_256, p), Map.of(), 256, 256);
        assertTrue(lit(image) > 0, "the rest of the figure is drawn");
    }

    private static int[] pixel(RgbImage image, int x, int y) {
        return new int[] {image.get(x, y, 0), image.get(x, y, 1), image.get(x, y, 2)};
    }

    private static String message(Executable call) {
        return assertThrows(IllegalArgumentException.class, call).getMessage();
    }

    /** The figure with limbs that cross the whole canvas from far outside: vertically, horizontally, diagonally. */
    private static double[] offCanvasFigure(double far) {
        double[] p = figure();
        p[1] = -far; // nose above, neck below
        p[3 + 1] = far;
        p[3 * 3] = far; // right elbow to the right, wrist to the left
        p[3 * 4] = -far;
        p[3 * 12] = -far; // left knee up left, ankle down right
        p[3 * 12 + 1] = -far;
        p[3 * 13] = far;
        p[3 * 13 + 1] = far;
        return p;
    }

    @Test
    void keypointsFarOutsideTheCanvasAreDrawnInBoundedTime() {
        byte[] data = json(CANVAS_256, offCanvasFigure(1e10), offCanvasFigure(-1e10));
        RgbImage image = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> render(data, Map.of(), 512, 512));
        assertTrue(lit(image) > 0);
    }

    @Test
    void keypointsOffTheCanvasDrawTheSamePixelsAsOpenCv() throws NoSuchAlgorithmException {
        // pinned from the scan fill that walks every row as cv2.fillConvexPoly does, those above the image too
        byte[] data = json(CANVAS_256, offCanvasFigure(3000));
        assertEquals("9c58630d6ee79f6ef5e892810425611388c04d0cbf6a97c87e86f8f744924297",
                sha256(render(data, Map.of(), 256, 256)));
        assertEquals("54606c517c3e7e6d1f99f6a5b38a91ed717f3a21012cc877240b689478d9816b",
                sha256(render(data, Map.of("stick_width", "auto"), 512, 384)));
        assertEquals("80e37065c049f7b0131659621ebd24668b85bccceb35b734268e4a88572d402c",
                sha256(render(json(CANVAS_256, offCanvasFigure(1e6)), Map.of(), 256, 256)));
    }

    private static String sha256(RgbImage image) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(image.pixels()));
    }
}

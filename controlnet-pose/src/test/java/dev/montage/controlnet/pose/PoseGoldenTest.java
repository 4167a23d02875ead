package dev.montage.controlnet.pose;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.Options;
import dev.montage.runtime.testing.Golden;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every skeleton of {@code golden/inputs/pose} (controlnet_aux's drawing with OpenCV 4.6) reproduced with zero
 * differing pixels from its OpenPose JSON, and every recorded {@code ellipse2Poly} polygon and joint circle centre.
 */
class PoseGoldenTest {

    private static JsonNode manifest() throws IOException {
        return new ObjectMapper().readTree(Golden.dir().resolve("inputs/pose/pose.json").toFile());
    }

    @TestFactory
    Stream<DynamicTest> everyReferenceSkeleton() throws IOException {
        Path golden = Golden.dir();
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode pose : manifest().get("poses")) {
            Path input = golden.resolve(pose.get("input").asText());
            Path expected = golden.resolve(pose.get("output").asText());
            int width = pose.get("canvas_width").asInt();
            int height = pose.get("canvas_height").asInt();
            tests.add(DynamicTest.dynamicTest(expected.getFileName().toString(), () -> {
                BufferedImage rendered = new PosePreprocessor().preprocessData(Files.readAllBytes(input),
                        input.toString(), Options.NONE, width, height);
                RgbImage want = RgbImage.of(ImageIO.read(expected.toFile()), null);
                RgbImage got = RgbImage.of(rendered, null);
                int differing = 0;
                int nonzero = 0;
                for (int i = 0; i < width * height; i++) {
                    boolean same = true;
                    boolean lit = false;
                    for (int c = 0; c < 3; c++) {
                        same &= want.pixels()[3 * i + c] == got.pixels()[3 * i + c];
                        lit |= got.pixels()[3 * i + c] != 0;
                    }
                    differing += same ? 0 : 1;
                    nonzero += lit ? 1 : 0;
                }
                System.out.printf("%s: %d differing pixels of %d (%d non-zero)%n", expected.getFileName(), differing,
                        width * height, nonzero);
                assertEquals(0, differing, expected + ": differing pixels");
                assertEquals(pose.get("nonzero_pixels").asInt(), nonzero, expected + ": non-zero pixels");
            }));
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> everyRecordedDrawingCall() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode pose : manifest().get("poses")) {
            String name = pose.get("name").asText();
            tests.add(DynamicTest.dynamicTest(name, () -> {
                int limbs = 0;
                for (JsonNode person : pose.get("people")) {
                    for (JsonNode limb : person.get("limbs")) {
                        int[][] polygon = OpenCvDrawing.ellipse2Poly(limb.get("center").get(0).asInt(),
                                limb.get("center").get(1).asInt(), limb.get("axes").get(0).asInt(),
                                limb.get("axes").get(1).asInt(), limb.get("angle").asInt());
                        int[][] expected = new int[limb.get("polygon").size()][];
                        for (int i = 0; i < expected.length; i++) {
                            JsonNode p = limb.get("polygon").get(i);
                            expected[i] = new int[] {p.get(0).asInt(), p.get(1).asInt()};
                        }
                        assertEquals(expected.length, polygon.length, name + " limb " + limb.get("joints"));
                        for (int i = 0; i < expected.length; i++) {
                            assertArrayEquals(expected[i], polygon[i], name + " limb " + limb.get("joints")
                                    + " vertex " + i);
                        }
                        limbs++;
                    }
                }
                System.out.println(name + ": " + limbs + " ellipse2Poly polygons identical");
            }));
        }
        return tests.stream();
    }
}

package dev.montage.controlnet.canny;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.Options;
import dev.montage.runtime.testing.Golden;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every edge map of {@code golden/inputs/canny} (OpenCV 4.6 {@code cv2.Canny}) reproduced with zero differing
 * pixels, through the detector and through the preprocessor with the matching options.
 */
class CannyGoldenTest {

    @TestFactory
    Stream<DynamicTest> everyReferenceEdgeMap() throws IOException {
        Path golden = Golden.dir();
        JsonNode manifest = new ObjectMapper().readTree(golden.resolve("inputs/canny/canny.json").toFile());
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode image : manifest.get("images")) {
            Path input = golden.resolve(image.get("input").asText());
            for (JsonNode out : image.get("outputs")) {
                Path expected = golden.resolve(out.get("file").asText());
                tests.add(DynamicTest.dynamicTest(expected.getFileName().toString(),
                        () -> checkOutput(input, expected, out)));
            }
        }
        return tests.stream();
    }

    private static void checkOutput(Path input, Path expectedFile, JsonNode out) throws IOException {
        BufferedImage picture = ImageIO.read(input.toFile());
        boolean gray = out.get("canny_input").asText().startsWith("gray");
        double t1 = out.get("threshold1").asDouble();
        double t2 = out.get("threshold2").asDouble();
        boolean l2 = out.get("L2gradient").asBoolean();
        byte[] expected = grayLevels(expectedFile);

        RgbImage edges = CannyPreprocessor.edges(RgbImage.of(picture, null), t1, t2, l2, gray);
        int differing = 0;
        int edgePixels = 0;
        for (int i = 0; i < expected.length; i++) {
            int v = edges.pixels()[3 * i] & 0xFF;
            edgePixels += v == 255 ? 1 : 0;
            differing += v != (expected[i] & 0xFF) ? 1 : 0;
        }
        System.out.printf("%s: %d differing pixels of %d (%d edge pixels)%n", expectedFile.getFileName(), differing,
                expected.length, edgePixels);
        assertEquals(0, differing, expectedFile + ": differing pixels");
        assertEquals(out.get("edge_pixels").asInt(), edgePixels, expectedFile + ": edge pixels");

        Options options = Options.of("options", Map.of("low", Double.toString(t1), "high", Double.toString(t2),
                "l2", Boolean.toString(l2), "input", gray ? "gray" : "rgb"));
        BufferedImage viaPreprocessor = new CannyPreprocessor().preprocess(picture, options, picture.getWidth(),
                picture.getHeight());
        RgbImage rgb = RgbImage.of(viaPreprocessor, null);
        for (int i = 0; i < expected.length; i++) {
            for (int c = 0; c < 3; c++) {
                if (rgb.pixels()[3 * i + c] != expected[i]) {
                    throw new AssertionError(expectedFile + ": preprocessor output differs at pixel " + i);
                }
            }
        }
    }

    @Test
    void grayIsOpenCvFixedPoint() throws IOException {
        Path golden = Golden.dir();
        for (String name : new String[] {"barn", "colorful_sneaker", "dog1"}) {
            RgbImage rgb = RgbImage.of(ImageIO.read(golden.resolve("inputs/canny/" + name + ".png").toFile()), null);
            assertArrayEquals(grayLevels(golden.resolve("inputs/canny/" + name + "_gray.png")),
                    CannyPreprocessor.gray(rgb), name + "_gray.png");
        }
    }

    /**
     * The golden ControlNet case's control image: Canny (100, 200) on OpenCV grey of the subject resized to the
     * 64x64 output with Pillow's bicubic filter, i.e. the preprocessor's default {@code resolution=output}.
     */
    @Test
    void controlImageOfTheGoldenControlNetCase() throws IOException {
        Path dir = Golden.caseDir("controlnet_text_only");
        BufferedImage subject = ImageIO.read(dir.resolve("subject_0.png").toFile());
        RgbImage expected = RgbImage.of(ImageIO.read(dir.resolve("control_image.png").toFile()), null);
        RgbImage actual = RgbImage.of(new CannyPreprocessor().preprocess(subject,
                Options.of("options", Map.of("input", "gray")), 64, 64), null);
        int differing = 0;
        for (int i = 0; i < expected.pixels().length; i++) {
            differing += expected.pixels()[i] != actual.pixels()[i] ? 1 : 0;
        }
        System.out.println("controlnet_text_only/control_image.png: " + differing + " differing samples");
        assertEquals(0, differing);
    }

    /** The samples of a single-channel 8-bit PNG. */
    static byte[] grayLevels(Path png) {
        try {
            BufferedImage image = ImageIO.read(png.toFile());
            Raster raster = image.getRaster();
            if (raster.getNumBands() != 1) {
                throw new IllegalArgumentException(png + ": expected one channel, got " + raster.getNumBands());
            }
            byte[] out = new byte[image.getWidth() * image.getHeight()];
            for (int y = 0; y < image.getHeight(); y++) {
                for (int x = 0; x < image.getWidth(); x++) {
                    out[y * image.getWidth() + x] = (byte) raster.getSample(x, y, 0);
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(png.toString(), e);
        }
    }
}

package dev.montage.controlnet.canny;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.Cancellation;
import dev.montage.api.GenerationCancelledException;
import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Options;
import dev.montage.runtime.registry.ComponentRegistry;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class CannyPreprocessorTest {
    private final CannyPreprocessor canny = new CannyPreprocessor();

    /** A red disc and a blue bar on grey: edges in colour that grey alone sees differently. */
    private static BufferedImage picture(int width, int height) {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(new Color(90, 90, 90));
        g.fillRect(0, 0, width, height);
        g.setColor(new Color(200, 30, 30));
        g.fillOval(width / 8, height / 6, width / 2, height / 2);
        g.setColor(new Color(20, 40, 220));
        g.fillRect(width / 2, height / 2, width / 3, height / 4);
        g.dispose();
        return image;
    }

    private static RgbImage rgb(BufferedImage image) {
        return RgbImage.of(image, null);
    }

    @Test
    void registeredAsTheCannyPreprocessor() {
        ConditionPreprocessor p = ComponentRegistry.fromClasspath(getClass().getClassLoader())
                .factory(ComponentKind.CONDITION_PREPROCESSOR, "canny", ConditionPreprocessor.class).create(null);
        assertEquals("canny", p.type());
    }

    @Test
    void byDefaultDetectsOnTheColourPictureResizedToTheOutput() {
        BufferedImage in = picture(60, 40);
        RgbImage out = rgb(canny.preprocess(in, options(), 90, 75));
        assertEquals(90, out.width());
        assertEquals(75, out.height());
        RgbImage resized = PilResampler.resize(rgb(in), 90, 75, ResampleFilter.BICUBIC);
        assertArrayEquals(CannyPreprocessor.edges(resized, 100, 200, false, false).pixels(), out.pixels());
        int edges = 0;
        for (byte b : out.pixels()) {
            assertTrue(b == 0 || b == (byte) 255, "binary edge map");
            edges += b != 0 ? 1 : 0;
        }
        assertTrue(edges > 0, "the shapes have edges");
    }

    @Test
    void resolutionInputResizesTheEdgeMapAsAnyControlImage() {
        BufferedImage in = picture(60, 40);
        RgbImage out = rgb(canny.preprocess(in, options("resolution", "input", "input", "gray", "low", "30",
                "high", "60", "l2", "true"), 90, 75));
        RgbImage edges = CannyPreprocessor.edges(rgb(in), 30, 60, true, true);
        assertArrayEquals(PilResampler.resize(edges, 90, 75, ResampleFilter.LANCZOS).pixels(), out.pixels());
    }

    @Test
    void aCancelStopsTheDetectorWithinARow() {
        BufferedImage in = picture(64, 64);
        int[] polls = {0};
        assertThrows(GenerationCancelledException.class, () -> Cancellation.within(() -> ++polls[0] > 3,
                () -> canny.preprocess(in, options(), 64, 64)));
        assertEquals(4, polls[0], "the poll that saw the cancel was the last");
    }

    @Test
    void greyAndColourDiffer() {
        BufferedImage in = picture(64, 64);
        RgbImage colour = rgb(canny.preprocess(in, options("input", "rgb"), 64, 64));
        RgbImage grey = rgb(canny.preprocess(in, options("input", "gray"), 64, 64));
        assertFalse(Arrays.equals(colour.pixels(), grey.pixels()));
    }

    @Test
    void thresholdsInEitherOrderAsOpenCv() {
        BufferedImage in = picture(64, 48);
        assertArrayEquals(rgb(canny.preprocess(in, options("low", "40", "high", "120"), 64, 48)).pixels(),
                rgb(canny.preprocess(in, options("low", "120", "high", "40"), 64, 48)).pixels());
    }

    @Test
    void declaredOptionsCheckWhatAControlGives() {
        assertEquals(List.of("low (number 0..65535, default 100)", "high (number 0..65535, default 200)",
                "l2 (boolean, default false)", "input (enum rgb|gray, default rgb)",
                "resolution (enum output|input, default output)"), canny.options().stream()
                        .map(o -> o.describe().substring(0, o.describe().indexOf(')') + 1)).toList());
        assertEquals(List.of(
                new Options.Problem("high", "expected a number in 0..65535, got '-1'"),
                new Options.Problem("input", "expected one of rgb, gray, got 'hsv'"),
                new Options.Problem("l2", "expected true or false, got '1'"),
                new Options.Problem("low", "expected a number in 0..65535, got 'abc'"),
                new Options.Problem("resolution", "expected one of output, input, got 'full'"),
                new Options.Problem("threshold", "unknown option (expected an option of preprocessor 'canny': low, "
                        + "high, l2, input, resolution)")),
                Options.check(canny.options(), Map.of("threshold", "3", "low", "abc", "high", "-1", "input", "hsv",
                        "resolution", "full", "l2", "1"), "preprocessor 'canny'"));
        assertEquals("options.low: expected a number in 0..65535, got 'abc'",
                message(() -> canny.preprocess(picture(8, 8), options("low", "abc"), 8, 8)));
    }

    @Test
    void takesPicturesNotDataFiles() {
        assertEquals("control type 'canny' takes a picture, not a data file (pose.json)",
                message(() -> canny.preprocessData(new byte[0], "pose.json", Options.NONE, 8, 8)));
    }

    private static Options options(String... namesAndValues) {
        Map<String, String> given = new LinkedHashMap<>();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            given.put(namesAndValues[i], namesAndValues[i + 1]);
        }
        return Options.of("options", given);
    }

    private static String message(Executable call) {
        return assertThrows(IllegalArgumentException.class, call).getMessage();
    }
}

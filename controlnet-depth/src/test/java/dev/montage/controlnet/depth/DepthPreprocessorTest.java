package dev.montage.controlnet.depth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Options;
import dev.montage.runtime.registry.ComponentRegistry;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class DepthPreprocessorTest {
    private final DepthPreprocessor depth = new DepthPreprocessor(List.of(), null);

    /** A grey PNG of the given bit depth decoded as a user's file would be. */
    private static BufferedImage greyPng(int width, int height, int[] samples, int type) throws IOException {
        BufferedImage image = new BufferedImage(width, height, type);
        WritableRaster raster = image.getRaster();
        for (int i = 0; i < samples.length; i++) {
            raster.setSample(i % width, i / width, 0, samples[i]);
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(image, "png", png);
        return ImageIO.read(new ByteArrayInputStream(png.toByteArray()));
    }

    /** Channel 0 of every pixel, after checking the three channels are equal. */
    private static int[] levels(BufferedImage image) {
        RgbImage rgb = RgbImage.of(image, null);
        int[] out = new int[rgb.width() * rgb.height()];
        for (int i = 0; i < out.length; i++) {
            int x = i % rgb.width();
            int y = i / rgb.width();
            assertEquals(rgb.get(x, y, 0), rgb.get(x, y, 1));
            assertEquals(rgb.get(x, y, 0), rgb.get(x, y, 2));
            out[i] = rgb.get(x, y, 0);
        }
        return out;
    }

    @Test
    void registeredAsTheDepthPreprocessor() {
        ConditionPreprocessor p = ComponentRegistry.fromClasspath(getClass().getClassLoader())
                .factory(ComponentKind.CONDITION_PREPROCESSOR, "depth", ConditionPreprocessor.class).create(null);
        assertEquals("depth", p.type());
    }

    @Test
    void aFullRange8BitMapIsUnchanged() throws IOException {
        int[] samples = new int[256];
        for (int i = 0; i < 256; i++) {
            samples[i] = (i * 37) % 256;
        }
        BufferedImage map = greyPng(16, 16, samples, BufferedImage.TYPE_BYTE_GRAY);
        assertArrayEquals(samples, levels(depth.preprocess(map, Options.NONE, 16, 16)));
    }

    @Test
    void a16BitMapIsNormalisedAtFullPrecision() throws IOException {
        // a range of 4 levels out of 65536: an 8-bit reading would see one flat value
        BufferedImage map = greyPng(5, 1, new int[] {40000, 40001, 40002, 40003, 40004},
                BufferedImage.TYPE_USHORT_GRAY);
        assertArrayEquals(new int[] {0, 64, 128, 191, 255}, levels(depth.preprocess(map, Options.NONE, 5, 1)));
        assertArrayEquals(new int[] {255, 191, 127, 64, 0},
                levels(depth.preprocess(map, options(Map.of("invert", "true")), 5, 1)));
    }

    @Test
    void normalisedThenResizedWithLanczos() throws IOException {
        int[] samples = new int[12 * 9];
        for (int i = 0; i < samples.length; i++) {
            samples[i] = 50 + (i % 12) * 3 + (i / 12) * 7;
        }
        BufferedImage map = greyPng(12, 9, samples, BufferedImage.TYPE_BYTE_GRAY);
        RgbImage normalised = DepthPreprocessor.normalise(DepthPreprocessor.read(map), false);
        assertEquals(0, normalised.get(0, 0, 0));
        assertEquals(255, normalised.get(11, 8, 0));
        assertArrayEquals(PilResampler.resize(normalised, 20, 30, ResampleFilter.LANCZOS).pixels(),
                RgbImage.of(depth.preprocess(map, Options.NONE, 20, 30), null).pixels());
    }

    @Test
    void colourMapsAreReadAsPillowLuma() {
        BufferedImage map = new BufferedImage(3, 1, BufferedImage.TYPE_INT_RGB);
        map.setRGB(0, 0, 0x000000);
        map.setRGB(1, 0, 0x808080);
        map.setRGB(2, 0, 0x10E040);
        float[] values = DepthPreprocessor.read(map).values();
        assertEquals(0, values[0]);
        assertEquals(128, values[1]);
        assertEquals((19595 * 0x10 + 38470 * 0xE0 + 7471 * 0x40 + 0x8000) >> 16, (int) values[2]);
    }

    @Test
    void aFlatMapIsBlack() throws IOException {
        BufferedImage map = greyPng(4, 4, new int[16], BufferedImage.TYPE_BYTE_GRAY);
        assertArrayEquals(new int[16], levels(depth.preprocess(map, Options.NONE, 4, 4)));
    }

    @Test
    void anEstimatorRegisteredThroughServiceLoaderMakesTheMapOfAPhotograph() {
        ConditionPreprocessor withEstimators = new DepthPreprocessorFactory().create(null);
        BufferedImage photo = new BufferedImage(8, 4, BufferedImage.TYPE_INT_RGB);
        int before = GradientEstimatorFactory.created;
        Options gradient = options(Map.of("estimator", GradientEstimatorFactory.ID));
        int[] out = levels(withEstimators.preprocess(photo, gradient, 4, 2));
        assertArrayEquals(new int[] {0, 85, 170, 255, 0, 85, 170, 255}, out);
        withEstimators.preprocess(photo, gradient, 4, 2);
        assertEquals(before + 1, GradientEstimatorFactory.created, "built once, on first use");
    }

    @Test
    void declaredOptionsCheckWhatAControlGives() {
        assertEquals(List.of(new Options.Problem("invert", "expected true or false, got 'yes'"),
                new Options.Problem("near", "unknown option (expected an option of preprocessor 'depth': invert, "
                        + "estimator)")), Options.check(depth.options(), Map.of("near", "bright", "invert", "yes"),
                        "preprocessor 'depth'"));
        assertEquals(List.of(new Options.Problem("estimator", "expected one of the installed choices (there is none), "
                + "got 'midas'")), Options.check(depth.options(), Map.of("estimator", "midas"), "depth"));
        assertEquals(List.of(new Options.Problem("estimator", "expected one of test-gradient, got 'midas'")),
                Options.check(new DepthPreprocessorFactory().create(null).options(), Map.of("estimator", "midas"),
                        "depth"));
        BufferedImage map = new BufferedImage(2, 2, BufferedImage.TYPE_BYTE_GRAY);
        assertEquals("options.invert: expected true or false, got 'yes'",
                message(() -> depth.preprocess(map, options(Map.of("invert", "yes")), 2, 2)));
        assertEquals("control type 'depth' takes a picture, not a data file (d.json)",
                message(() -> depth.preprocessData(new byte[0], "d.json", Options.NONE, 2, 2)));
    }

    @Test
    void estimatorIdsAreUnique() {
        assertEquals("two depth estimators have the id 'test-gradient': " + GradientEstimatorFactory.class.getName()
                + " and " + GradientEstimatorFactory.class.getName(), message(() -> new DepthPreprocessor(
                        List.of(new GradientEstimatorFactory(), new GradientEstimatorFactory()), null)));
    }

    private static Options options(Map<String, String> given) {
        return Options.of("options", given);
    }

    private static String message(Executable call) {
        return assertThrows(IllegalArgumentException.class, call).getMessage();
    }
}

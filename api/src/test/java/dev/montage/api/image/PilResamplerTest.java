package dev.montage.api.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The resampler against Pillow 9.4's {@code Image.resize} on synthetic pictures (test resources {@code pil/},
 * made by {@code pil/make_reference.py}): every byte must match.
 */
class PilResamplerTest {
    private static final int[][] SIZES = {{7, 5}, {20, 33}, {80, 64}, {61, 10}, {13, 47}, {32, 32}};

    static Stream<Arguments> references() {
        Stream.Builder<Arguments> cases = Stream.builder();
        for (String picture : new String[] {"noise", "smooth"}) {
            for (ResampleFilter filter : ResampleFilter.values()) {
                for (int[] size : SIZES) {
                    cases.add(Arguments.of(picture, filter, size[0], size[1]));
                }
            }
        }
        return cases.build();
    }

    @ParameterizedTest(name = "{0} {1} to {2}x{3}")
    @MethodSource("references")
    void matchesPillowByteForByte(String picture, ResampleFilter filter, int width, int height) {
        RgbImage in = RgbImage.of(resource(picture + ".png"), null);
        RgbImage expected = RgbImage.of(resource(String.format("%s_%s_%dx%d.png", picture,
                filter.name().toLowerCase(Locale.ROOT), width, height)), null);
        RgbImage actual = PilResampler.resize(in, width, height, filter);
        assertEquals(width, actual.width());
        assertEquals(height, actual.height());
        assertArrayEquals(expected.pixels(), actual.pixels());
    }

    @Test
    void sameSizeIsTheSamePicture() {
        RgbImage in = RgbImage.of(resource("smooth.png"), null);
        assertSame(in, PilResampler.resize(in, in.width(), in.height(), ResampleFilter.BICUBIC));
    }

    static BufferedImage resource(String name) {
        try (InputStream in = PilResamplerTest.class.getResourceAsStream("pil/" + name)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource pil/" + name);
            }
            return ImageIO.read(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

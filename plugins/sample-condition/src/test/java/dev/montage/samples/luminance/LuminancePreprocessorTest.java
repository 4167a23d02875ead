package dev.montage.samples.luminance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.montage.api.spi.Options;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LuminancePreprocessorTest {
    private static BufferedImage primaries() {
        BufferedImage image = new BufferedImage(3, 1, BufferedImage.TYPE_INT_RGB);
        image.setRGB(0, 0, 0xFF0000);
        image.setRGB(1, 0, 0x00FF00);
        image.setRGB(2, 0, 0x0000FF);
        return image;
    }

    private static int[] gray(BufferedImage image) {
        int[] out = new int[image.getWidth()];
        for (int x = 0; x < out.length; x++) {
            int rgb = image.getRGB(x, 0) & 0xFFFFFF;
            int l = rgb & 0xFF;
            assertEquals((l << 16) | (l << 8) | l, rgb, "all three channels hold the luma");
            out[x] = l;
        }
        return out;
    }

    @Test
    void lumaOfThePrimariesIsPillows() {
        // Pillow: Image.new("RGB", ...).convert("L") gives 76, 150, 29 for pure red, green, blue
        BufferedImage out = new LuminancePreprocessor().preprocess(primaries(), Options.NONE, 3, 1);
        assertEquals(3, out.getWidth());
        assertEquals(1, out.getHeight());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {76, 150, 29}, gray(out));
    }

    @Test
    void invertAndResize() {
        LuminancePreprocessor p = new LuminancePreprocessor();
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {179, 105, 226},
                gray(p.preprocess(primaries(), Options.of("options", Map.of("invert", "true")), 3, 1)));
        BufferedImage big = p.preprocess(primaries(), Options.NONE, 12, 8);
        assertEquals(12, big.getWidth());
        assertEquals(8, big.getHeight());
    }

    @Test
    void badOptionsAreNamed() {
        LuminancePreprocessor p = new LuminancePreprocessor();
        assertEquals(List.of(new Options.Problem("gamma", "unknown option (expected an option of luminance: invert)"),
                new Options.Problem("invert", "expected true or false, got 'yes'")),
                Options.check(p.options(), Map.of("gamma", "2", "invert", "yes"), "luminance"));
        assertEquals("options.invert: expected true or false, got 'yes'", assertThrows(IllegalArgumentException.class,
                () -> p.preprocess(primaries(), Options.of("options", Map.of("invert", "yes")), 3, 1)).getMessage());
    }
}

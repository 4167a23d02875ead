package dev.montage.samples.luminance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
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
        BufferedImage out = new LuminancePreprocessor().preprocess(primaries(), Map.of(), 3, 1);
        assertEquals(3, out.getWidth());
        assertEquals(1, out.getHeight());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {76, 150, 29}, gray(out));
    }

    @Test
    void invertAndResize() {
        LuminancePreprocessor p = new LuminancePreprocessor();
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {179, 105, 226},
                gray(p.preprocess(primaries(), Map.of("invert", "true"), 3, 1)));
        BufferedImage big = p.preprocess(primaries(), Map.of(), 12, 8);
        assertEquals(12, big.getWidth());
        assertEquals(8, big.getHeight());
    }

    @Test
    void badOptionsAreNamed() {
        LuminancePreprocessor p = new LuminancePreprocessor();
        assertEquals("luminance has no option 'gamma'; known: [invert]", assertThrows(IllegalArgumentException.class,
                () -> p.preprocess(primaries(), Map.of("gamma", "2"), 3, 1)).getMessage());
        assertEquals("luminance option 'invert' must be true or false, got 'yes'",
                assertThrows(IllegalArgumentException.class,
                        () -> p.preprocess(primaries(), Map.of("invert", "yes"), 3, 1)).getMessage());
    }
}

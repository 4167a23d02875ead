package dev.montage.api.image;

import static dev.montage.api.image.PilResamplerTest.resource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.WritableRaster;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Conversion of decoded pictures to RGB, against Pillow 9.4's {@code convert("RGB")} (test resources {@code pil/}). */
class RgbImageTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"mode_rgb.png", "mode_rgba.png", "mode_l.png", "mode_la.png", "mode_p.png",
            "mode_rgb.jpg", "mode_rgb_420.jpg", "mode_l.jpg"})
    void convertsLikePillow(String file) {
        RgbImage expected = RgbImage.of(resource(file.replace('.', '_') + ".rgb.png"), null);
        RgbImage actual = RgbImage.of(resource(file), null);
        assertEquals(expected.width(), actual.width());
        assertEquals(expected.height(), actual.height());
        assertArrayEquals(expected.pixels(), actual.pixels());
    }

    @Test
    void sixteenBitSamplesKeepTheirHighByte() {
        BufferedImage grey = new BufferedImage(2, 1, BufferedImage.TYPE_USHORT_GRAY);
        grey.getRaster().setSample(0, 0, 0, 0x12ff);
        grey.getRaster().setSample(1, 0, 0, 0xffff);
        assertArrayEquals(new byte[] {0x12, 0x12, 0x12, -1, -1, -1}, RgbImage.of(grey, null).pixels());

        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), true, false,
                Transparency.TRANSLUCENT, DataBuffer.TYPE_USHORT);
        WritableRaster raster = cm.createCompatibleWritableRaster(1, 1);
        raster.setPixel(0, 0, new int[] {0xabcd, 0x0102, 0xff00, 0x0000});
        BufferedImage rgba = new BufferedImage(cm, raster, false, null);
        assertArrayEquals(new byte[] {(byte) 0xab, 0x01, (byte) 0xff}, RgbImage.of(rgba, null).pixels());
    }

    @Test
    void alphaIsDroppedOrComposited() {
        BufferedImage image = new BufferedImage(3, 1, BufferedImage.TYPE_INT_ARGB);
        image.setRGB(0, 0, 0x00102030); // fully transparent, colour still stored
        image.setRGB(1, 0, 0xff102030); // opaque
        image.setRGB(2, 0, 0x80ff0000); // half transparent red
        assertArrayEquals(new byte[] {0x10, 0x20, 0x30, 0x10, 0x20, 0x30, -1, 0, 0},
                RgbImage.of(image, null).pixels());
        RgbImage onWhite = RgbImage.of(image, Color.WHITE);
        assertArrayEquals(new int[] {255, 255, 255}, pixel(onWhite, 0));
        assertArrayEquals(new int[] {0x10, 0x20, 0x30}, pixel(onWhite, 1));
        // 255 * 128/255 + 255 * 127/255 for red, 255 * 127/255 for green and blue
        assertArrayEquals(new int[] {255, 127, 127}, pixel(onWhite, 2));
    }

    @Test
    void premultipliedPixelsAreUnpremultiplied() {
        BufferedImage image = new BufferedImage(1, 1, BufferedImage.TYPE_INT_ARGB_PRE);
        image.setRGB(0, 0, 0x80ff8000);
        int[] p = pixel(RgbImage.of(image, null), 0);
        assertTrue(Math.abs(p[0] - 255) <= 1 && Math.abs(p[1] - 128) <= 1 && p[2] == 0, () -> Arrays.toString(p));
    }

    @Test
    void padsToACentredSquare() {
        BufferedImage image = new BufferedImage(3, 1, BufferedImage.TYPE_INT_RGB);
        image.setRGB(0, 0, 0x010203);
        image.setRGB(1, 0, 0x040506);
        image.setRGB(2, 0, 0x070809);
        RgbImage square = RgbImage.of(image, null).padToSquare(new Color(0xaabbcc));
        assertEquals(3, square.width());
        assertEquals(3, square.height());
        assertArrayEquals(new int[] {0xaa, 0xbb, 0xcc}, pixel(square, 0));
        assertArrayEquals(new int[] {1, 2, 3}, pixel(square, 3));
        assertArrayEquals(new int[] {7, 8, 9}, pixel(square, 5));
        assertArrayEquals(new int[] {0xaa, 0xbb, 0xcc}, pixel(square, 8));
    }

    @Test
    void rejectsColourSpacesOtherThanRgbAndGrey() {
        ComponentColorModel cmyk = new ComponentColorModel(new FourComponentSpace(), false, false,
                Transparency.OPAQUE, DataBuffer.TYPE_BYTE);
        BufferedImage image = new BufferedImage(cmyk, cmyk.createCompatibleWritableRaster(1, 1), false, null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RgbImage.of(image, null));
        assertTrue(e.getMessage().contains("CMYK"), e.getMessage());
    }

    private static int[] pixel(RgbImage image, int index) {
        int x = index % image.width();
        int y = index / image.width();
        return new int[] {image.get(x, y, 0), image.get(x, y, 1), image.get(x, y, 2)};
    }

    /** A stand-in CMYK colour space (the JDK ships no CMYK profile). */
    private static final class FourComponentSpace extends ColorSpace {
        FourComponentSpace() {
            super(ColorSpace.TYPE_CMYK, 4);
        }

        @Override
        public float[] toRGB(float[] v) {
            return new float[3];
        }

        @Override
        public float[] fromRGB(float[] rgb) {
            return new float[4];
        }

        @Override
        public float[] toCIEXYZ(float[] v) {
            return new float[3];
        }

        @Override
        public float[] fromCIEXYZ(float[] v) {
            return new float[4];
        }
    }
}

package dev.montage.api.image;

import java.awt.Color;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;

/**
 * An 8-bit RGB picture, row-major with interleaved channels: the form Pillow resizes in ({@code mode "RGB"}).
 *
 * @param width  columns
 * @param height rows
 * @param pixels {@code width * height * 3} bytes, R G B per pixel
 */
public record RgbImage(int width, int height, byte[] pixels) {

    /**
     * @throws IllegalArgumentException when the size is not positive or the bytes do not fit it
     */
    public RgbImage {
        if (width <= 0 || height <= 0 || pixels.length != width * height * 3) {
            throw new IllegalArgumentException("an RGB image of " + width + "x" + height + " needs "
                    + (long) width * height * 3 + " bytes, got " + pixels.length);
        }
    }

    /** Channel {@code c} (0 = R) of pixel (x, y), 0..255. */
    public int get(int x, int y, int c) {
        return pixels[(y * width + x) * 3 + c] & 0xFF;
    }

    /**
     * Converts a decoded picture to RGB the way Pillow's {@code convert("RGB")} does: sample values taken as
     * stored (no colour management), grey replicated into R, G and B, palette entries looked up, alpha dropped
     * (or, with {@code alphaBackground}, composited onto that colour).
     *
     * <p>16-bit samples keep their high byte, as Pillow reads 16-bit RGB(A) and grey+alpha PNGs. For 16-bit grey
     * without alpha Pillow instead clips every value above 255 to white (its {@code I} to {@code RGB}
     * conversion); that turns a 16-bit photograph into a white sheet, so here it too keeps the high byte.
     *
     * @param alphaBackground colour to composite transparent pixels onto, or null to drop alpha
     * @throws IllegalArgumentException for colour spaces other than RGB and grey (e.g. CMYK)
     */
    public static RgbImage of(BufferedImage image, Color alphaBackground) {
        int w = image.getWidth();
        int h = image.getHeight();
        byte[] out = new byte[w * h * 3];
        Raster raster = image.getRaster();
        ColorModel cm = image.getColorModel();
        SampleReader reader = cm instanceof IndexColorModel palette
                ? paletteReader(palette, raster)
                : componentReader(cm, raster);
        int[] rgba = new int[4];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                reader.read(x, y, rgba);
                int i = (y * w + x) * 3;
                for (int c = 0; c < 3; c++) {
                    int v = alphaBackground == null ? rgba[c] : over(rgba[c], rgba[3], channel(alphaBackground, c));
                    out[i + c] = (byte) v;
                }
            }
        }
        return new RgbImage(w, h, out);
    }

    /** A square of side max(width, height) filled with {@code color}, with this picture centred on it. */
    public RgbImage padToSquare(Color color) {
        int side = Math.max(width, height);
        if (side == width && side == height) {
            return this;
        }
        byte[] out = new byte[side * side * 3];
        for (int i = 0; i < side * side; i++) {
            for (int c = 0; c < 3; c++) {
                out[i * 3 + c] = (byte) channel(color, c);
            }
        }
        int left = (side - width) / 2;
        int top = (side - height) / 2;
        for (int y = 0; y < height; y++) {
            System.arraycopy(pixels, y * width * 3, out, ((top + y) * side + left) * 3, width * 3);
        }
        return new RgbImage(side, side, out);
    }

    /** The picture as a {@link BufferedImage} (for looking at it). */
    public BufferedImage toBufferedImage() {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, get(x, y, 0) << 16 | get(x, y, 1) << 8 | get(x, y, 2));
            }
        }
        return image;
    }

    /** Reads one pixel as 8-bit R, G, B, A. */
    private interface SampleReader {
        void read(int x, int y, int[] rgba);
    }

    private static SampleReader paletteReader(IndexColorModel palette, Raster raster) {
        return (x, y, rgba) -> {
            int index = raster.getSample(x, y, 0);
            rgba[0] = palette.getRed(index);
            rgba[1] = palette.getGreen(index);
            rgba[2] = palette.getBlue(index);
            rgba[3] = palette.getAlpha(index);
        };
    }

    private static SampleReader componentReader(ColorModel cm, Raster raster) {
        int colors = cm.getNumColorComponents();
        int spaceType = cm.getColorSpace().getType();
        boolean grey = colors == 1 && spaceType == ColorSpace.TYPE_GRAY;
        if (!grey && !(colors == 3 && spaceType == ColorSpace.TYPE_RGB)) {
            throw new IllegalArgumentException("unsupported colour model: " + colors
                    + " colour components of colour space type " + spaceType + " (RGB or grey expected, e.g. not CMYK)");
        }
        int transfer = raster.getTransferType();
        if (transfer != DataBuffer.TYPE_BYTE && transfer != DataBuffer.TYPE_USHORT && transfer != DataBuffer.TYPE_INT) {
            throw new IllegalArgumentException("unsupported sample type " + transfer + " (integer samples expected)");
        }
        boolean alpha = cm.hasAlpha();
        boolean premultiplied = alpha && cm.isAlphaPremultiplied();
        int bands = colors + (alpha ? 1 : 0);
        int[] bits = new int[bands];
        for (int b = 0; b < bands; b++) {
            bits[b] = cm.getComponentSize(b);
        }
        return (x, y, rgba) -> {
            for (int c = 0; c < 3; c++) {
                int band = grey ? 0 : c;
                rgba[c] = to8Bits(raster.getSample(x, y, band), bits[band]);
            }
            rgba[3] = alpha ? to8Bits(raster.getSample(x, y, colors), bits[colors]) : 255;
            if (premultiplied) {
                for (int c = 0; c < 3; c++) {
                    rgba[c] = rgba[3] == 0 ? 0 : Math.min(255, (rgba[c] * 255 + rgba[3] / 2) / rgba[3]);
                }
            }
        };
    }

    /** High byte of wider samples (as Pillow unpacks 16-bit PNGs); narrower ones stretched to 0..255. */
    private static int to8Bits(int value, int bits) {
        if (bits == 8) {
            return value;
        }
        if (bits > 8) {
            return value >>> (bits - 8);
        }
        return value * 255 / ((1 << bits) - 1);
    }

    /** {@code value} with opacity {@code alpha} over {@code background}, rounded. */
    private static int over(int value, int alpha, int background) {
        return (value * alpha + background * (255 - alpha) + 127) / 255;
    }

    private static int channel(Color color, int c) {
        return switch (c) {
            case 0 -> color.getRed();
            case 1 -> color.getGreen();
            default -> color.getBlue();
        };
    }
}

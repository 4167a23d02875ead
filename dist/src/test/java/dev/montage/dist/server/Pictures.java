package dev.montage.dist.server;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Base64;
import java.util.Random;
import javax.imageio.ImageIO;

/** Small pictures for requests. */
final class Pictures {
    /** The 8-byte signature and the IHDR chunk (4 length, 4 type, 13 data, 4 CRC). */
    private static final int PNG_HEADER_BYTES = 33;

    private Pictures() {
    }

    /** A PNG of a filled oval of the given color on black, {@code size}² pixels. */
    static byte[] oval(Color color, int size) {
        BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(color);
        g.fillOval(size / 8, size / 8, size * 3 / 4, size * 3 / 4);
        g.dispose();
        return png(image);
    }

    /** A PNG of random pixels: it does not compress, so its size in bytes is about 3 × size². */
    static byte[] noise(int size) {
        BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        Random random = new Random(size);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                image.setRGB(x, y, random.nextInt(1 << 24));
            }
        }
        return png(image);
    }

    /** A PNG of one 16-bit grey level, {@code size}² pixels: tiny as a file, 2 bytes a pixel once decoded. */
    static byte[] flat16(int size) {
        return png(new BufferedImage(size, size, BufferedImage.TYPE_USHORT_GRAY));
    }

    /** The signature and header chunk of a {@code size}² PNG and no pixel data: its size is known, nothing decodes. */
    static byte[] headerOnly(int size) {
        return Arrays.copyOf(png(new BufferedImage(size, size, BufferedImage.TYPE_BYTE_GRAY)), PNG_HEADER_BYTES);
    }

    static String base64(byte[] bytes) {
        return Base64.getEncoder().encodeToString(bytes);
    }

    static BufferedImage decode(byte[] png) {
        try {
            return ImageIO.read(new ByteArrayInputStream(png));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] pixels(byte[] png) {
        BufferedImage image = decode(png);
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    private static byte[] png(BufferedImage image) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageIO.write(image, "png", out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A lossless WebP (VP8L) of {@code width} x {@code height} opaque pixels, each channel 0 or 255 as {@code color}
     * says, written by hand from the WebP lossless bitstream specification (there is no WebP encoder in Java): no
     * transforms, no color cache, one group of prefix codes, each a "simple" code of the two symbols 0 and 255
     * (a 1-bit code) or, for alpha and distances, of one symbol (0 bits), so every pixel is its green, red and blue
     * bits.
     *
     * @param color ARGB of pixel (x, y); only whether each of R, G, B is 0 or not counts
     */
    static byte[] webp(int width, int height, java.util.function.BiFunction<Integer, Integer, Integer> color) {
        Bits bits = new Bits();
        bits.write(0x2f, 8);
        bits.write(width - 1, 14);
        bits.write(height - 1, 14);
        bits.write(0, 1); // alpha unused
        bits.write(0, 3); // version
        bits.write(0, 1); // no transform
        bits.write(0, 1); // no color cache
        bits.write(0, 1); // no meta prefix codes
        for (int code = 0; code < 3; code++) { // green, red, blue: symbols 0 and 255
            bits.write(1, 1); // simple code
            bits.write(1, 1); // two symbols
            bits.write(0, 1); // the first in 1 bit
            bits.write(0, 1);
            bits.write(255, 8);
        }
        bits.write(1, 1); // alpha: the one symbol 255
        bits.write(0, 1);
        bits.write(1, 1);
        bits.write(255, 8);
        bits.write(1, 1); // distance: the one symbol 0
        bits.write(0, 1);
        bits.write(0, 1);
        bits.write(0, 1);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int argb = color.apply(x, y);
                bits.write((argb >> 8 & 0xff) == 0 ? 0 : 1, 1);
                bits.write((argb >> 16 & 0xff) == 0 ? 0 : 1, 1);
                bits.write((argb & 0xff) == 0 ? 0 : 1, 1);
            }
        }
        byte[] vp8l = bits.bytes();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int padded = vp8l.length + (vp8l.length & 1);
        out.writeBytes("RIFF".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        littleEndian(out, 4 + 8 + padded);
        out.writeBytes("WEBPVP8L".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        littleEndian(out, vp8l.length);
        out.writeBytes(vp8l);
        if ((vp8l.length & 1) == 1) {
            out.write(0);
        }
        return out.toByteArray();
    }

    private static void littleEndian(ByteArrayOutputStream out, int value) {
        for (int i = 0; i < 4; i++) {
            out.write(value >>> (8 * i) & 0xff);
        }
    }

    /** Bits packed from the least significant bit of each byte up, as WebP lossless reads them. */
    private static final class Bits {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private int current;
        private int used;

        void write(int value, int count) {
            for (int i = 0; i < count; i++) {
                current |= (value >> i & 1) << used;
                if (++used == 8) {
                    out.write(current);
                    current = 0;
                    used = 0;
                }
            }
        }

        byte[] bytes() {
            if (used > 0) {
                out.write(current);
                current = 0;
                used = 0;
            }
            return out.toByteArray();
        }
    }
}

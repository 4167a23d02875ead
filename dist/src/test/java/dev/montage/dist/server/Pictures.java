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
}

package dev.montage.dist.server;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Pictures that clients send, decoded with their size checked from the header first, so a small file that
 * claims a huge image (a decompression bomb), or many pictures that together do, are refused before any pixel memory
 * is taken.
 */
final class ImageInput {
    private ImageInput() {
    }

    /**
     * The pixels the pictures of one request may have: each alone, and all together. Each picture decoded takes its
     * share; a picture used twice takes it twice, since each use is decoded and handed on separately.
     */
    static final class PixelBudget {
        private final long perPicture;
        private final long perRequest;
        private long taken;

        PixelBudget(long perPicture, long perRequest) {
            this.perPicture = perPicture;
            this.perRequest = perRequest;
        }

        /**
         * @throws ApiException 413 when the picture has more pixels than one may, or than are left
         */
        private void take(String field, int width, int height) {
            long pixels = (long) width * height;
            if (pixels > perPicture) {
                throw ApiException.tooLarge(field, "is " + width + "x" + height + " = " + pixels
                        + " pixels, more than the limit of " + perPicture);
            }
            if (taken + pixels > perRequest) {
                throw ApiException.tooLarge(field, "is " + width + "x" + height + " = " + pixels + " pixels; with the "
                        + "request's earlier pictures (" + taken + " pixels) that is more than the limit of "
                        + perRequest + " pixels per request on this server");
            }
            taken += pixels;
        }
    }

    /**
     * @param field  the request field, for messages
     * @param budget the pixels left to the request; this picture's are taken from it
     * @throws ApiException 413 when the picture has more pixels than allowed
     * @throws IllegalArgumentException when the bytes are no picture ImageIO reads (PNG, JPEG, WebP, BMP, GIF)
     */
    static BufferedImage decode(byte[] bytes, String field, PixelBudget budget) {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new IllegalArgumentException("is not a PNG, JPEG or WebP picture");
            }
            ImageReader reader = readers.next();
            try {
                int width;
                int height;
                try {
                    reader.setInput(in, true, true);
                    width = reader.getWidth(0);
                    height = reader.getHeight(0);
                } catch (RuntimeException e) {
                    throw unreadable(e);
                }
                if ((long) width * height == 0) {
                    throw new IllegalArgumentException("is an empty picture");
                }
                budget.take(field, width, height);
                try {
                    return reader.read(0);
                } catch (RuntimeException e) {
                    throw unreadable(e);
                }
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw unreadable(e);
        }
    }

    /** Decoders report damaged data as IIOException, EOFException or runtime exceptions of their own. */
    private static IllegalArgumentException unreadable(Exception e) {
        return new IllegalArgumentException("is not a readable picture: " + e.getMessage(), e);
    }
}

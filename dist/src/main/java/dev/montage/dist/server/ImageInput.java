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
 * claims a huge image (a decompression bomb) is refused before any pixel memory is taken.
 */
final class ImageInput {
    private ImageInput() {
    }

    /**
     * @param field     the request field, for messages
     * @param maxPixels largest width × height accepted
     * @throws ApiException 413 when the picture has more pixels than allowed
     * @throws IllegalArgumentException when the bytes are no picture ImageIO reads (PNG, JPEG, BMP, GIF)
     */
    static BufferedImage decode(byte[] bytes, String field, long maxPixels) {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new IllegalArgumentException("is not a PNG or JPEG picture");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
                if (pixels > maxPixels) {
                    throw ApiException.tooLarge(field, "is " + reader.getWidth(0) + "x" + reader.getHeight(0)
                            + " = " + pixels + " pixels, more than the limit of " + maxPixels);
                }
                if (pixels == 0) {
                    throw new IllegalArgumentException("is an empty picture");
                }
                return reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("is not a readable picture: " + e.getMessage(), e);
        }
    }
}

package dev.montage.plugins.clip;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/** Reads subject pictures from disk. */
public final class ImageFiles {
    private ImageFiles() {
    }

    /**
     * Decodes a PNG, JPEG or WebP (any format ImageIO reads; the distribution adds WebP) as stored: grey, grey+alpha, palette, RGB, RGBA, 8 or
     * 16 bits per sample. {@link ClipImageProcessor} converts every one of them to RGB.
     * EXIF orientation is not applied (Pillow's {@code Image.open} does not apply it either).
     *
     * @throws IllegalArgumentException naming the file when it is missing, not an image or cannot be decoded
     * @throws UncheckedIOException     naming the file when reading it fails
     */
    public static BufferedImage read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + ": no such image file");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new IllegalArgumentException(file + ": not a picture in a readable format (PNG, JPEG or WebP expected)");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                return reader.read(0);
            } catch (IOException | RuntimeException e) {
                // decoders report damaged data as IIOException, EOFException or runtime exceptions
                throw new IllegalArgumentException(file + ": cannot decode the picture: " + e.getMessage(), e);
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}

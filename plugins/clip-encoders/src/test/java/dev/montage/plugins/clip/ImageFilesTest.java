package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.image.RgbImage;
import java.awt.Color;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pictures in the formats users hand in, written to disk and read back. */
class ImageFilesTest {
    @TempDir
    Path dir;

    @Test
    void sixteenBitGreyPng() throws IOException {
        BufferedImage image = new BufferedImage(5, 4, BufferedImage.TYPE_USHORT_GRAY);
        image.getRaster().setSample(2, 1, 0, 0xfedc);
        BufferedImage read = ImageFiles.read(write(image, "png", "grey16.png"));
        RgbImage rgb = RgbImage.of(read, null);
        assertEquals(0xfe, rgb.get(2, 1, 0));
        assertEquals(0xfe, rgb.get(2, 1, 2));
        assertEquals(0, rgb.get(0, 0, 1));
    }

    @Test
    void sixteenBitRgbaPng() throws IOException {
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), true, false,
                Transparency.TRANSLUCENT, DataBuffer.TYPE_USHORT);
        WritableRaster raster = cm.createCompatibleWritableRaster(3, 2);
        raster.setPixel(1, 1, new int[] {0x1234, 0x5678, 0x9abc, 0x0000});
        BufferedImage read = ImageFiles.read(write(new BufferedImage(cm, raster, false, null), "png", "rgba16.png"));
        assertEquals(16, read.getColorModel().getComponentSize(0));
        RgbImage rgb = RgbImage.of(read, null);
        assertArrayEquals(new int[] {0x12, 0x56, 0x9a}, new int[] {rgb.get(1, 1, 0), rgb.get(1, 1, 1), rgb.get(1, 1, 2)});
    }

    @Test
    void palettePng() throws IOException {
        byte[] r = {0, (byte) 200};
        byte[] g = {0, 100};
        byte[] b = {0, 50};
        BufferedImage image = new BufferedImage(4, 4, BufferedImage.TYPE_BYTE_INDEXED,
                new IndexColorModel(8, 2, r, g, b));
        image.getRaster().setSample(3, 3, 0, 1);
        RgbImage rgb = RgbImage.of(ImageFiles.read(write(image, "png", "palette.png")), null);
        assertEquals(200, rgb.get(3, 3, 0));
        assertEquals(50, rgb.get(3, 3, 2));
        assertEquals(0, rgb.get(0, 0, 0));
    }

    @Test
    void greyAndColourJpegs() throws IOException {
        BufferedImage grey = ClipImageProcessorTest.filled(16, 16, Color.GRAY);
        BufferedImage greyOnly = new BufferedImage(16, 16, BufferedImage.TYPE_BYTE_GRAY);
        greyOnly.getGraphics().drawImage(grey, 0, 0, null);
        RgbImage fromGrey = RgbImage.of(ImageFiles.read(write(greyOnly, "jpg", "grey.jpg")), null);
        assertEquals(fromGrey.get(5, 5, 0), fromGrey.get(5, 5, 1));
        RgbImage fromColour = RgbImage.of(ImageFiles.read(write(
                ClipImageProcessorTest.filled(16, 16, Color.ORANGE), "jpg", "colour.jpg")), null);
        assertTrue(Math.abs(fromColour.get(8, 8, 0) - 255) <= 2 && Math.abs(fromColour.get(8, 8, 1) - 200) <= 2);
    }

    @Test
    void unreadableFilesAreNamed() throws IOException {
        Path missing = dir.resolve("missing.png");
        assertNamed(missing, "no such image file");
        Path text = Files.writeString(dir.resolve("notes.png"), "not a picture");
        assertNamed(text, "not a picture in a readable format");
        byte[] png = Files.readAllBytes(write(ClipImageProcessorTest.filled(64, 64, Color.RED), "png", "ok.png"));
        Path truncated = Files.write(dir.resolve("truncated.png"), Arrays.copyOf(png, 60));
        assertNamed(truncated, "cannot decode");
    }

    private static void assertNamed(Path file, String what) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ImageFiles.read(file));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(what), e.getMessage());
    }

    private Path write(BufferedImage image, String format, String name) throws IOException {
        Path file = dir.resolve(name);
        assertTrue(ImageIO.write(image, format, file.toFile()), "no " + format + " writer for " + name);
        return file;
    }
}

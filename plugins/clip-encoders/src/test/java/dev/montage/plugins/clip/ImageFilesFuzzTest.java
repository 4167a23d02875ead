package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.testing.Fuzzer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mutated PNG and JPEG subject pictures: each decodes, or is refused naming the file, quickly. */
class ImageFilesFuzzTest {
    @TempDir
    Path dir;

    @Test
    void pngAndJpegPictures() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        int[] types = {BufferedImage.TYPE_INT_RGB, BufferedImage.TYPE_INT_ARGB, BufferedImage.TYPE_BYTE_GRAY,
            BufferedImage.TYPE_USHORT_GRAY, BufferedImage.TYPE_BYTE_INDEXED};
        for (int type : types) {
            BufferedImage image = new BufferedImage(12, 9, type);
            for (int y = 0; y < 9; y++) {
                for (int x = 0; x < 12; x++) {
                    image.setRGB(x, y, 0xFF000000 | x * 0x150A03 + y * 0x031C07);
                }
            }
            seeds.add(encode(image, "png"));
            if (type == BufferedImage.TYPE_INT_RGB || type == BufferedImage.TYPE_BYTE_GRAY) {
                seeds.add(encode(image, "jpeg"));
            }
        }
        Path file = dir.resolve("subject.img");
        int ran = new Fuzzer("pictures", 0x1436, seeds).run(3000, Duration.ofSeconds(6),
                bytes -> ImageFiles.read(Files.write(file, bytes)), IllegalArgumentException.class);
        assertTrue(ran > 100, "ran " + ran);
    }

    private static byte[] encode(BufferedImage image, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, format, out);
        return out.toByteArray();
    }
}

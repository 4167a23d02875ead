package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.testing.Fuzzer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/** Mutated pictures as clients upload them: each decodes, or is a 400 or 413 naming the field, quickly. */
class UploadedPicturesFuzzTest {

    @Test
    void pngAndJpegUploads() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        for (int type : new int[] {BufferedImage.TYPE_INT_RGB, BufferedImage.TYPE_INT_ARGB,
            BufferedImage.TYPE_BYTE_GRAY, BufferedImage.TYPE_USHORT_GRAY, BufferedImage.TYPE_BYTE_INDEXED}) {
            BufferedImage image = new BufferedImage(12, 9, type);
            image.setRGB(3, 4, 0xFF336699);
            seeds.add(encode(image, "png"));
            if (type == BufferedImage.TYPE_INT_RGB) {
                seeds.add(encode(image, "jpeg"));
            }
        }
        int ran = new Fuzzer("uploads", 0x0B10AD, seeds).run(3000, Duration.ofSeconds(6),
                bytes -> ImageInput.decode(bytes, "subjects[0].image", new ImageInput.PixelBudget(1 << 20, 1 << 21)),
                IllegalArgumentException.class, ApiException.class);
        assertTrue(ran > 100, "ran " + ran);
    }

    private static byte[] encode(BufferedImage image, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, format, out);
        return out.toByteArray();
    }
}

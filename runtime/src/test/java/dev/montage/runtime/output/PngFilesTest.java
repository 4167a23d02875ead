package dev.montage.runtime.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PngFilesTest {
    @TempDir
    Path dir;

    @Test
    void parametersSurviveTheRoundTripInAnyLanguage() throws Exception {
        BufferedImage image = new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
        image.setRGB(1, 1, 0x123456);
        Map<String, String> params = new LinkedHashMap<>();
        params.put("prompt", "un chien café 日本語, best quality");
        params.put("seed", "42");
        Path file = dir.resolve("out.png");
        PngFiles.write(file, image, params);
        try (InputStream in = Files.newInputStream(file)) {
            assertEquals(params, PngFiles.readParameters(in));
        }
        BufferedImage back = ImageIO.read(file.toFile());
        assertEquals(0x123456, back.getRGB(1, 1) & 0xFFFFFF);
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file is left behind");
        }
    }

    @Test
    void refusesKeysWithoutUsableCharacters() {
        BufferedImage image = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        assertThrows(IllegalArgumentException.class, () -> PngFiles.encode(image, Map.of(" ", "x")));
    }
}

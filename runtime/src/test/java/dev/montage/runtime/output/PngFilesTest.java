package dev.montage.runtime.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
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

    @Test
    void filesGetTheModeTheUmaskGives() throws Exception {
        Path reference = Files.createFile(dir.resolve("reference"));
        Path png = dir.resolve("out").resolve("image.png");
        PngFiles.write(png, new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB), Map.of());
        assertEquals(Files.getPosixFilePermissions(reference), Files.getPosixFilePermissions(png),
                "the mode of any file the process creates");
    }

    @Test
    void writeNewNeverReplacesAFile() throws Exception {
        Path reference = Files.createFile(dir.resolve("reference"));
        Path png = dir.resolve("out").resolve("image.png");
        BufferedImage image = new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB);
        PngFiles.write(png, image, Map.of("seed", "1"));
        Path again = PngFiles.writeNew(png, image, Map.of("seed", "2"));
        Path third = PngFiles.writeNew(png, image, Map.of("seed", "3"));
        assertEquals(List.of(dir.resolve("out/image-1.png"), dir.resolve("out/image-2.png")), List.of(again, third));
        assertEquals(Files.getPosixFilePermissions(reference), Files.getPosixFilePermissions(third));
        for (String seed : new String[] {"1", "2", "3"}) {
            Path file = seed.equals("1") ? png : seed.equals("2") ? again : third;
            try (InputStream in = Files.newInputStream(file)) {
                assertEquals(seed, PngFiles.readParameters(in).get("seed"), file + " kept");
            }
        }
        try (var left = Files.list(png.getParent())) {
            assertEquals(3, left.count(), "no temporary file is left");
        }
    }
}

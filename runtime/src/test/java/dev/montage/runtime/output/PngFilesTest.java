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
    void numberedFilesTakeTheNextNumberOfTheFolderAndNeverReplaceOne() throws Exception {
        Path reference = Files.createFile(dir.resolve("reference"));
        Path out = Files.createDirectories(dir.resolve("out"));
        Files.createFile(out.resolve("00007-3.png"));
        Files.createFile(out.resolve("12notes.txt"));
        BufferedImage image = new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB);
        Path first = PngFiles.writeNumbered(out, "42.png", image, Map.of("seed", "1"));
        Path second = PngFiles.writeNumbered(out, "42.png", image, Map.of("seed", "2"));
        assertEquals(List.of(out.resolve("00008-42.png"), out.resolve("00009-42.png")), List.of(first, second));
        assertEquals(Files.getPosixFilePermissions(reference), Files.getPosixFilePermissions(second),
                "the mode of any file the process creates");
        try (InputStream in = Files.newInputStream(first)) {
            assertEquals("1", PngFiles.readParameters(in).get("seed"), first + " kept");
        }
        try (var left = Files.list(out)) {
            assertEquals(4, left.count(), "no temporary file is left");
        }
    }
}

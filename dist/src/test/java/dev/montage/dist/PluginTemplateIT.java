package dev.montage.dist;

import static dev.montage.dist.CommandRun.montage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The plugin template of {@code examples/plugin-template}, as this build made it from its own pom (a standalone
 * project compiled against this build's montage-api): its OSGi bundle and its PF4J zip, each dropped into a plugins
 * folder, are listed by {@code montage plugins} with their version and description and run by
 * {@code montage preprocess}, as the template's README walks through.
 */
class PluginTemplateIT {
    @ParameterizedTest
    @CsvSource({"template-bundle.jar, osgi:com.example.montage.threshold", "template-pf4j.zip, pf4j:threshold"})
    void eachOutputIsListedAndRuns(String file, String source, @TempDir Path dir) throws IOException {
        Path plugins = Files.createDirectories(dir.resolve("plugins"));
        Files.copy(PluginSourcesIT.SAMPLES.resolve(file), plugins.resolve(file));

        CommandRun list = montage("plugins", "--plugins", plugins.toString());
        assertEquals(0, list.code(), list::toString);
        assertTrue(list.out().matches("(?s).*\ncondition preprocessor +scribble +" + source.replace(".", "\\.")
                + " +1\\.0\\.0 +active\n.*"), list.out());
        assertTrue(list.out().contains("\n  " + source + " 1.0.0: A scribble control image from a drawing: pixels "
                + "darker than a level become white lines on black.\n"), list.out());

        // a grey stroke on white paper: darker than 160, lighter than 100
        BufferedImage drawing = new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 4; x++) {
                drawing.setRGB(x, y, x == 1 ? 0x808080 : 0xFFFFFF);
            }
        }
        Path picture = dir.resolve("drawing.png");
        ImageIO.write(drawing, "png", picture.toFile());
        for (int level : new int[] {160, 100}) {
            Path scribble = dir.resolve("scribble-" + level + ".png");
            CommandRun run = montage("preprocess", "scribble", "--plugins", plugins.toString(), "--image",
                    picture.toString(), "-O", "level=" + level, "--out", scribble.toString());
            assertEquals(0, run.code(), run::toString);
            BufferedImage out = ImageIO.read(scribble.toFile());
            assertEquals(level > 128 ? 0xFFFFFF : 0, out.getRGB(1, 2) & 0xFFFFFF, "the stroke at level " + level);
            assertEquals(0, out.getRGB(3, 2) & 0xFFFFFF, "the paper");
        }
        CommandRun refused = montage("preprocess", "scribble", "--plugins", plugins.toString(), "--image",
                picture.toString(), "-O", "level=300", "--out", dir.resolve("never.png").toString());
        assertEquals(2, refused.code(), refused::toString);
        assertTrue(refused.err().contains("level"), refused.err());
    }
}

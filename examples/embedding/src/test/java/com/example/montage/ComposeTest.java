package com.example.montage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ComposeTest {
    @Test
    void composesOnAModelFolder() throws Exception {
        Path model = Path.of(System.getProperty("montage.golden.dir"), "tiny-sdxl-msd");
        BufferedImage image = Compose.compose(Compose.onModel(model), 64, 2);
        assertEquals(64, image.getWidth());
        assertEquals(64, image.getHeight());
    }

    @Test
    void composesOnTheEmbeddedTinyModel() throws Exception {
        BufferedImage image = Compose.compose(Compose.onTinyModel(), 64, 2);
        assertEquals(64, image.getWidth());
        // written where MONTAGE_HOME says, not into the user's cache
        assertTrue(Files.isDirectory(Path.of(System.getenv("MONTAGE_HOME"), "models")));
    }
}

package com.example.montage;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ComposeTest {
    @Test
    void composesOnTheTinyModel() throws Exception {
        Path model = Path.of(System.getProperty("montage.golden.dir"), "tiny-sdxl-msd");
        BufferedImage image = Compose.compose(model, 64, 2);
        assertEquals(64, image.getWidth());
        assertEquals(64, image.getHeight());
    }
}

package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ImagePreparationTest {

    @Test
    void noOptionsIsTheOfficialBehaviour() {
        assertEquals(ImagePreparation.OFFICIAL, ImagePreparation.fromOptions(Map.of()));
    }

    @Test
    void optionsAreColours() {
        ImagePreparation p = ImagePreparation.fromOptions(Map.of("alpha_background", "#FFFFFF", "pad_to_square", "102030"));
        assertEquals(Optional.of(Color.WHITE), p.alphaBackground());
        assertEquals(Optional.of(new Color(0x10, 0x20, 0x30)), p.padColor());
    }

    @Test
    void aBadColourNamesTheOption() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ImagePreparation.fromOptions(Map.of("pad_to_square", "white")));
        assertTrue(e.getMessage().contains("pad_to_square") && e.getMessage().contains("white"), e.getMessage());
    }
}

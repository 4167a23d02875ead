package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.montage.api.spi.Options;
import java.awt.Color;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ImagePreparationTest {

    @Test
    void noOptionsIsTheOfficialBehaviour() {
        assertEquals(ImagePreparation.OFFICIAL, SdxlImageEncoderFactory.preparation(Options.NONE));
    }

    @Test
    void optionsAreColours() {
        ImagePreparation p = SdxlImageEncoderFactory.preparation(Options.of("options.image_encoder",
                Map.of("alpha_background", "#FFFFFF", "pad_to_square", "102030")));
        assertEquals(Optional.of(Color.WHITE), p.alphaBackground());
        assertEquals(Optional.of(new Color(0x10, 0x20, 0x30)), p.padColor());
    }

    @Test
    void aBadColourNamesTheOption() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SdxlImageEncoderFactory.preparation(Options.of("options.image_encoder",
                        Map.of("pad_to_square", "white"))));
        assertEquals("options.image_encoder.pad_to_square: expected a colour as #rrggbb, got 'white'", e.getMessage());
    }
}

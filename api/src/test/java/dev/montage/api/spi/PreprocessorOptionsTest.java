package dev.montage.api.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PreprocessorOptionsTest {

    @Test
    void unknownOptionNamesItAndEveryAcceptedOne() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PreprocessorOptions.of("canny", Map.of("lo", "1"), List.of("low", "high")));
        assertEquals("canny: unknown option 'lo'; did you mean low? (accepted options: low, high, preprocess)", e.getMessage());
    }

    @Test
    void typedValuesWithDefaults() {
        PreprocessorOptions o = PreprocessorOptions.of("t", Map.of("n", "2.5", "i", " 7", "f", "true", "c", "b"),
                List.of("n", "i", "f", "c", "absent"));
        assertEquals(2.5, o.number("n", 0, 0, 10));
        assertEquals(7, o.integer("i", 0, 0, 10));
        assertTrue(o.flag("f", false));
        assertEquals("b", o.choice("c", "a", "a", "b"));
        assertEquals(3, o.integer("absent", 3, 0, 10));
        assertFalse(o.passThrough());
        assertTrue(o.string("absent").isEmpty());
    }

    @Test
    void malformedValuesNameTheOptionWhatItAcceptsAndTheValue() {
        PreprocessorOptions o = PreprocessorOptions.of("t", Map.of("n", "x", "r", "11", "i", "1.5", "f", "yes",
                "c", "z", "preprocess", "off"), List.of("n", "r", "i", "f", "c"));
        assertEquals("t: option 'n' must be a number in 0..10, got 'x'",
                assertThrows(IllegalArgumentException.class, () -> o.number("n", 0, 0, 10)).getMessage());
        assertEquals("t: option 'r' must be a number in 0..10, got '11'",
                assertThrows(IllegalArgumentException.class, () -> o.number("r", 0, 0, 10)).getMessage());
        assertEquals("t: option 'i' must be an integer in 1..4, got '1.5'",
                assertThrows(IllegalArgumentException.class, () -> o.integer("i", 1, 1, 4)).getMessage());
        assertEquals("t: option 'f' must be one of true, false, got 'yes'",
                assertThrows(IllegalArgumentException.class, () -> o.flag("f", false)).getMessage());
        assertEquals("t: option 'c' must be one of a, b, got 'z'",
                assertThrows(IllegalArgumentException.class, () -> o.choice("c", "a", "a", "b")).getMessage());
        assertEquals("t: option 'preprocess' must be one of auto, none, got 'off'",
                assertThrows(IllegalArgumentException.class, o::passThrough).getMessage());
    }

    @Test
    void preprocessNoneIsAlwaysAccepted() {
        assertTrue(PreprocessorOptions.of("t", Map.of("preprocess", "none"), List.of()).passThrough());
    }

    @Test
    void picturesOnlyByDefault() {
        ConditionPreprocessor p = new ConditionPreprocessor() {
            @Override
            public String type() {
                return "edges";
            }

            @Override
            public java.awt.image.BufferedImage preprocess(java.awt.image.BufferedImage input,
                    Map<String, String> options, int width, int height) {
                return input;
            }
        };
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.preprocessData(new byte[0], "pose.json", Map.of(), 8, 8));
        assertEquals("control type 'edges' takes a picture, not a data file (pose.json)", e.getMessage());
    }
}

package dev.montage.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BoxTest {

    @Test
    void acceptsValidBoxAndKeepsCheckpointOrder() {
        Box b = new Box(0.25, 0.1, 0.75, 0.9);
        assertArrayEquals(new float[] {0.25f, 0.1f, 0.75f, 0.9f}, b.toArray());
        assertTrue(Box.NONE.isNone());
        assertTrue(!Box.FULL.isNone());
    }

    @ParameterizedTest
    @CsvSource({
        "-0.1, 0, 0.5, 0.5, box.x0 must be in 0..1",
        "0, 0, 1.5, 0.5, box.x1 must be in 0..1",
        "0, NaN, 0.5, 0.5, box.y0 must be in 0..1",
        "0.5, 0, 0.5, 0.5, box.x0 must be < box.x1",
        "0, 0.6, 0.5, 0.5, box.y0 must be < box.y1",
    })
    void refusesInvalidBoxesNamingTheCoordinate(double x0, double y0, double x1, double y1, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Box(x0, y0, x1, y1));
        assertTrue(e.getMessage().startsWith(expected), e.getMessage());
    }

    @Test
    void parsesCommandLineForm() {
        assertEquals(new Box(0, 0.25, 0.5, 0.75), Box.parse(" 0, 0.25,0.5 ,0.75"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Box.parse("0,0,1"));
        assertTrue(e.getMessage().contains("four numbers"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Box.parse("0,0,a,1"));
        assertTrue(e.getMessage().contains("'0,0,a,1'"), e.getMessage());
    }
}

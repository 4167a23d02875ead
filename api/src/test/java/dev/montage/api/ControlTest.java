package dev.montage.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ControlTest {
    private static final BufferedImage PICTURE = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);

    /** Keep flags as diffusers computes them ({@code 1 - float(i/N < start or (i+1)/N > end)}), worked out by hand. */
    @ParameterizedTest(name = "start {0}, end {1}, {2} steps: {3}")
    @CsvSource({
        "0, 1, 4, 1111",
        "0.25, 0.75, 4, 0110",
        "0, 0.5, 4, 1100",
        "0.25, 1, 4, 0111",
        "0, 0.6666666666666666, 3, 110",
        "0.3, 1, 10, 0001111111",
        "0.5, 0.6, 10, 0000010000",
        "0.1, 0.2, 4, 0000"})
    void guidanceWindowFollowsDiffusers(double start, double end, int steps, String keep) {
        Control c = new Control("canny", PICTURE, 1, start, end, Map.of());
        StringBuilder actual = new StringBuilder();
        for (int i = 0; i < steps; i++) {
            actual.append(c.activeAt(i, steps) ? '1' : '0');
        }
        assertEquals(keep, actual.toString());
    }

    @Test
    void badWindowsAndScalesNameTheControl() {
        assertEquals("control.start must be in 0..1, got 1.5 for control 'depth'", assertThrows(
                IllegalArgumentException.class, () -> new Control("depth", PICTURE, 1, 1.5, 1, Map.of())).getMessage());
        assertEquals("control.end must be in 0..1, got -0.1 for control 'depth'", assertThrows(
                IllegalArgumentException.class, () -> new Control("depth", PICTURE, 1, 0, -0.1, Map.of())).getMessage());
        assertEquals("control.start must be < control.end, got start=0.5, end=0.5 for control 'pose'", assertThrows(
                IllegalArgumentException.class, () -> new Control("pose", PICTURE, 1, 0.5, 0.5, Map.of())).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Control("pose", PICTURE, Double.NaN, 0, 1,
                Map.of())).getMessage().contains("control.scale"));
    }

    @Test
    void requestOptionsSplitIntoThePipelinesFieldsAndThePreprocessorsOptions() {
        Control c = Control.fromRequestOptions("canny", PICTURE, null, 1, 0, 1, Map.of("low", "50",
                "preprocess", "none", "context", "full"));
        assertFalse(c.preprocess());
        assertEquals(Optional.of(ControlNetContext.FULL), c.context());
        assertEquals(Map.of("low", "50"), c.options());
        assertEquals(List.of("context=full", "low=50", "preprocess=none"), c.requestOptions().entrySet().stream()
                .map(Object::toString).toList(), "written back sorted, as requests give them");
        Control auto = Control.fromRequestOptions("canny", PICTURE, null, 1, 0, 1, Map.of("preprocess", "auto"));
        assertTrue(auto.preprocess());
        assertEquals(Map.of(), auto.requestOptions());
        Control plain = Control.of("canny", PICTURE, 0.5);
        assertTrue(plain.preprocess());
        assertEquals(Optional.empty(), plain.context());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Control.fromRequestOptions("canny", PICTURE,
                null, 1, 0, 1, Map.of("preprocess", "off"))).getMessage()
                .contains("'preprocess' must be auto or none, got 'off'"));
        assertEquals("control option 'context': ControlNet context must be one of [text-only, full], got 'image' "
                + "for control 'canny'", assertThrows(IllegalArgumentException.class, () -> Control.fromRequestOptions(
                        "canny", PICTURE, null, 1, 0, 1, Map.of("context", "image"))).getMessage());
    }

    @Test
    void thePreprocessorsOptionsNeverHoldThePipelinesKeys() {
        for (String key : List.of("preprocess", "context")) {
            assertEquals("control.options holds '" + key + "', which is the control's own field, not an option of "
                    + "its preprocessor, for control 'canny'", assertThrows(IllegalArgumentException.class,
                            () -> new Control("canny", PICTURE, 1, 0, 1, Map.of(key, "none"))).getMessage());
        }
        Control typed = new Control("depth", PICTURE, null, 1, 0, 1, false, Optional.of(ControlNetContext.TEXT_ONLY),
                Map.of());
        assertEquals(Map.of("preprocess", "none", "context", "text-only"), typed.requestOptions());
        assertEquals(Optional.empty(), new Control("depth", PICTURE, null, 1, 0, 1, true, null, null).context());
    }

    @Test
    void aControlIsGivenAsExactlyOneOfPictureAndData() {
        byte[] json = "{\"people\": []}".getBytes(StandardCharsets.UTF_8);
        Control keypoints = Control.ofData("pose", json, "pose.json", 0.7, 0.1, 0.9, Map.of("stick_width", "auto"));
        assertNull(keypoints.image());
        assertEquals(new ControlData(json, "pose.json"), keypoints.data());
        assertArrayEquals(json, keypoints.data().bytes());
        assertEquals(0.7, keypoints.conditioningScale());
        assertEquals(Map.of("stick_width", "auto"), keypoints.options());
        json[0] = ' ';
        assertEquals('{', keypoints.data().bytes()[0], "the control keeps its own copy");
        assertNull(Control.of("pose", PICTURE, 1).data());

        assertEquals("control.image or control.data is required (exactly one), got neither for control 'pose'",
                assertThrows(IllegalArgumentException.class, () -> new Control("pose", null, 1, 0, 1, Map.of()))
                        .getMessage());
        assertEquals("control.image or control.data is required (exactly one), got both for control 'pose'",
                assertThrows(IllegalArgumentException.class, () -> new Control("pose", PICTURE,
                        new ControlData(json, "pose.json"), 1, 0, 1, true, Optional.empty(), Map.of())).getMessage());
        assertEquals("control.data.source is required: the file or field the data came from", assertThrows(
                IllegalArgumentException.class, () -> Control.ofData("pose", json, " ", 1, 0, 1, Map.of()))
                .getMessage());
        assertEquals("control.data.bytes is required (pose.json)", assertThrows(IllegalArgumentException.class,
                () -> Control.ofData("pose", null, "pose.json", 1, 0, 1, Map.of())).getMessage());
    }

    @Test
    void contextNamesParse() {
        assertEquals(ControlNetContext.TEXT_ONLY, ControlNetContext.parse("text-only"));
        assertEquals(ControlNetContext.TEXT_ONLY, ControlNetContext.parse(" TEXT_ONLY "));
        assertEquals(ControlNetContext.FULL, ControlNetContext.parse("full"));
        assertThrows(IllegalArgumentException.class, () -> ControlNetContext.parse(null));
    }
}

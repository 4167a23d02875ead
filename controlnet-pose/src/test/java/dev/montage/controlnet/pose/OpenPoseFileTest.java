package dev.montage.controlnet.pose;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class OpenPoseFileTest {

    private static OpenPoseFile parse(String text) {
        return OpenPoseFile.parse(text.getBytes(StandardCharsets.UTF_8), "f.json");
    }

    private static String message(String text) {
        return assertThrows(IllegalArgumentException.class, () -> parse(text)).getMessage();
    }

    private static String person(String... numbers) {
        return "{\"people\": [{\"pose_keypoints_2d\": [" + String.join(", ", numbers) + "]}]}";
    }

    @Test
    void numbersParseAsPythonFloatsWhateverTheirForm() {
        String[] texts = {"0.1", "96.8", "478.6", "-1.0", "0.12", "1234567.891", "12", "-1e-3", "1E+300",
            "5000000000"};
        String[] numbers = new String[54];
        for (int i = 0; i < numbers.length; i++) {
            numbers[i] = texts[i % texts.length];
        }
        double[] parsed = parse(person(numbers)).people().get(0);
        assertArrayEquals(Arrays.stream(numbers).mapToDouble(Double::parseDouble).toArray(), parsed);
    }

    @Test
    void theCanvasIsOptional() {
        OpenPoseFile file = parse("{\"people\": [], \"canvas_width\": 640, \"canvas_height\": null}");
        assertEquals(640, file.canvasWidth());
        assertEquals(0, file.canvasHeight());
    }

    @Test
    void malformedTextNamesTheSourceLineAndColumn() {
        assertEquals("f.json: malformed JSON at line 2, column 9: Unexpected character (']' (code 93)): expected a "
                + "value", message("{\"people\":\n [1, 2, ]}"));
        assertEquals("f.json: malformed JSON at line 1, column 6: Unexpected character ('1' (code 49)): was "
                + "expecting a colon to separate field name and value", message("{\"a\" 1}"));
        assertEquals("f.json: malformed JSON at line 1, column 2: Unexpected character ('a' (code 97)): was "
                + "expecting double-quote to start field name", message("{a: 1}"));
        assertEquals("f.json: malformed JSON at line 1, column 4: Trailing token (of type START_ARRAY) found after "
                + "value (bound as `com.fasterxml.jackson.databind.JsonNode`): not allowed as per "
                + "`DeserializationFeature.FAIL_ON_TRAILING_TOKENS`", message("{} []"));
    }

    @Test
    void notKeypointsIsNamed() {
        String expected = "f.json: not OpenPose keypoints: expected a JSON object with a 'people' array";
        assertEquals(expected, message(""));
        assertEquals(expected, message("[1, 2]"));
        assertEquals(expected, message("{\"people\": {}}"));
        assertEquals("f.json: people[0]: 'pose_keypoints_2d'[0] is not a number: \"x\"",
                message(person(("\"x\"," + " 1,".repeat(53)).replaceAll(",$", "").split(","))));
        assertEquals("f.json: people[0]: 'pose_keypoints_2d'[53] is not a number: null",
                message(person((" 1,".repeat(53) + " null").split(","))));
        assertEquals("f.json: 'canvas_height' must be a positive integer, got \"512\"",
                message("{\"people\": [], \"canvas_height\": \"512\"}"));
    }

    @Test
    void deepNestingIsRefusedWhereItHappens() {
        String deep = "{\"people\": " + "[".repeat(5000) + "]".repeat(5000) + "}";
        String message = message(deep);
        assertEquals(true, message.startsWith("f.json: malformed JSON at line 1, column 76: Document nesting depth "
                + "(65) exceeds the maximum allowed (64"), message);
    }
}

package dev.montage.controlnet.pose;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    private static Object parse(String text) {
        return Json.parse(text.getBytes(StandardCharsets.UTF_8), "f.json");
    }

    @Test
    void valuesAsPlainJavaObjects() {
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("a", List.of(256.3, -0.001, 12.0, 1e300));
        expected.put("s", "q\"\\/\b\f\n\r\t\u00e9");
        expected.put("t", true);
        expected.put("f", false);
        expected.put("n", null);
        expected.put("o", Map.of());
        expected.put("e", List.of());
        assertEquals(expected, parse(" {\"a\": [256.3, -1e-3, 12, 1E+300], \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\","
                + " \"t\": true, \"f\": false, \"n\": null, \"o\": {}, \"e\": [ ]}\n"));
    }

    @Test
    void numbersParseAsPythonFloats() {
        for (String n : new String[] {"0.1", "96.8", "478.6", "-1.0", "0.12", "1234567.891"}) {
            assertEquals(Double.parseDouble(n), parse("[" + n + "]") instanceof List<?> l ? l.get(0) : null);
        }
    }

    @Test
    void malformedTextNamesTheSourceAndTheCharacter() {
        for (String[] c : Arrays.asList(
                new String[] {"[1, ]", "f.json: malformed JSON at character 4: unexpected character ']'"},
                new String[] {"{\"a\" 1}", "f.json: malformed JSON at character 5: expected ':'"},
                new String[] {"{a: 1}", "f.json: malformed JSON at character 1: expected a member name in quotes"},
                new String[] {"\"abc", "f.json: malformed JSON at character 4: unterminated string"},
                new String[] {"[1] x", "f.json: malformed JSON at character 4: unexpected text after the JSON value"},
                new String[] {"", "f.json: malformed JSON at character 0: unexpected end of the file"},
                new String[] {"[tru]", "f.json: malformed JSON at character 1: expected true"},
                new String[] {"[1.]", "f.json: malformed JSON at character 3: expected a digit"})) {
            assertEquals(c[1], assertThrows(IllegalArgumentException.class, () -> parse(c[0])).getMessage(), c[0]);
        }
    }

    @Test
    void deepNestingIsRefusedWithTheOffset() {
        String deep = "{\"people\": " + "[".repeat(5000) + "]".repeat(5000) + "}";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(deep));
        assertEquals("f.json: malformed JSON at character 74: objects and arrays nest more than 64 deep",
                e.getMessage());
    }
}

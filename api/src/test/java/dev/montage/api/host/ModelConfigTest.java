package dev.montage.api.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModelConfigTest {
    private final ModelConfig config = new ModelConfig("unet/config.json", values());

    private static Map<String, Object> values() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("in_channels", 4);
        v.put("norm_eps", 1e-5);
        v.put("act_fn", "silu");
        v.put("attention_head_dim", List.of(5, 10, 20));
        v.put("transformer_layers_per_block", 2);
        v.put("center_input_sample", false);
        v.put("bad_int", 2.5);
        v.put("nothing", null);
        v.put("nested", Map.of("k", 1));
        return v;
    }

    @Test
    void typedLookups() {
        assertEquals(4, config.getInt("in_channels"));
        assertEquals(7, config.getInt("missing", 7));
        assertEquals(1e-5, config.getDouble("norm_eps"));
        assertEquals("silu", config.getString("act_fn"));
        assertEquals(List.of(5, 10, 20), config.getIntList("attention_head_dim"));
        assertEquals(List.of(2, 2, 2), config.getIntOrList("transformer_layers_per_block", 3));
        assertFalse(config.getBoolean("center_input_sample", true));
        assertFalse(config.has("nothing"));
        assertEquals(1, config.getObject("nested").orElseThrow().getInt("k"));
    }

    @Test
    void errorsNameTheFileTheKeyAndWhatWasExpected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> config.getInt("bad_int"));
        assertEquals("unet/config.json: 'bad_int' must be an integer, got 2.5", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> config.getInt("layers_per_block"));
        assertEquals("unet/config.json: required key 'layers_per_block' is missing", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> config.getIntOrList("attention_head_dim", 2));
        assertTrue(e.getMessage().contains("must have 2 entries"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> config.getString("in_channels"));
        assertTrue(e.getMessage().contains("'in_channels' must be a string"), e.getMessage());
    }

    @Test
    void boundedLookupsNameTheKeyTheRangeAndTheValue() {
        assertEquals(4, config.getInt("in_channels", 1, 8));
        assertEquals(9, config.getInt("missing", 9, 1, 8));
        assertEquals(List.of(5, 10, 20), config.getIntList("attention_head_dim", 1, 20));
        assertEquals(List.of(2, 2), config.getIntOrList("transformer_layers_per_block", 2, 1, 2));
        assertEquals("unet/config.json: 'in_channels' must be an integer in 5..8, got 4", assertThrows(
                IllegalArgumentException.class, () -> config.getInt("in_channels", 0, 5, 8)).getMessage());
        assertEquals("unet/config.json: 'attention_head_dim' must be an integer in 1..10, got 20", assertThrows(
                IllegalArgumentException.class, () -> config.getIntList("attention_head_dim", 1, 10)).getMessage());
        assertEquals("unet/config.json: 'attention_head_dim' must hold 1..2 entries, got 3", assertThrows(
                IllegalArgumentException.class, () -> config.withEntries("attention_head_dim",
                        config.getIntList("attention_head_dim"), 1, 2)).getMessage());
    }
}

package dev.montage.plugins.vae;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.host.ModelConfig;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VaeConfigTest {
    @ParameterizedTest
    @CsvSource({"norm_num_groups, 0, 1..65536", "layers_per_block, 1000000, 1..100", "latent_channels, 0, 1..65536",
        "block_out_channels, 0, 1..65536"})
    void absurdSizesAreRefusedByKey(String key, int value, String range) {
        Object entry = key.equals("block_out_channels") ? List.of(128, value) : value;
        Map<String, Object> values = new HashMap<>(Map.of("block_out_channels", List.of(128, 256)));
        values.put(key, entry);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> VaeConfig.from(new ModelConfig("vae/config.json", values)));
        assertTrue(e.getMessage().startsWith("vae/config.json: '" + key + "'"), e.getMessage());
        assertTrue(e.getMessage().contains(range + ", got " + value), e.getMessage());
    }
}

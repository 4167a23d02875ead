package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.host.ModelConfig;
import dev.montage.runtime.config.ParserLimits;
import dev.montage.runtime.testing.Fuzzer;
import java.io.CharConversionException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Mutated UNet and ControlNet configurations, parsed under the limits model folders parse them with: each lays out
 * its network, or is refused (by the parser, or naming the key), quickly.
 */
class UNetConfigFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper(ParserLimits.json());

    @Test
    @SuppressWarnings("unchecked")
    void unetConfigurations() {
        int ran = new Fuzzer("unet-config", 0x04E7, List.of(UNetConfigTest.SDXL_BASE.getBytes(StandardCharsets.UTF_8)))
                .run(3000, Duration.ofSeconds(6), bytes -> {
                    ModelConfig config = new ModelConfig("unet/config.json",
                            (Map<String, Object>) JSON.readValue(bytes, Map.class));
                    SdxlUNet.weightShapes(UNetConfig.from(config));
                    ControlNetConfig.from(config);
                }, IllegalArgumentException.class, JsonProcessingException.class, CharConversionException.class);
        assertTrue(ran > 100, "ran " + ran);
    }
}

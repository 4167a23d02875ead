package dev.montage.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class EngineConfigTest {

    @Test
    void normalisesNamesAndAliases() {
        EngineConfig config = new EngineConfig(" CUDA:1 ", "BF16", 4, 1);

        assertEquals("cuda:1", config.device());
        assertEquals("bfloat16", config.dtype());
        assertEquals(1, config.cudaIndex());
    }

    @Test
    void nullMeansAuto() {
        EngineConfig config = EngineConfig.of(null, null);

        assertEquals(EngineConfig.defaults(), config);
        assertEquals(-1, config.cudaIndex());
    }

    @Test
    void plainCudaIsTheFirstDevice() {
        assertEquals(0, EngineConfig.of("cuda", "fp16").cudaIndex());
        assertEquals(-1, EngineConfig.of("cpu", "float32").cudaIndex());
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpu", "cuda:", "cuda:x", "cuda0", "mps", "", "cpu:0"})
    void rejectsUnknownDevicesNamingTheAcceptedOnes(String device) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EngineConfig.of(device, "auto"));

        assertTrue(e.getMessage().contains("'" + device.trim().toLowerCase() + "'"), e.getMessage());
        assertTrue(e.getMessage().contains("auto, cpu, cuda or cuda:N"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"int8", "double", "", "float64"})
    void rejectsUnknownDTypesNamingTheAcceptedOnes(String dtype) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EngineConfig.of("cpu", dtype));

        assertTrue(e.getMessage().contains("'" + dtype + "'"), e.getMessage());
        assertTrue(e.getMessage().contains("auto, float32, float16 or bfloat16"), e.getMessage());
    }

    @Test
    void rejectsNegativeThreadCounts() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new EngineConfig("cpu", "float32", -1, 0));

        assertTrue(e.getMessage().contains("intra-op -1"), e.getMessage());
    }
}

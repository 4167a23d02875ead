package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The declared weight layouts are exactly the golden checkpoints' (names and shapes). */
class WeightLayoutGoldenTest {

    private static void assertLayout(String key, Map<String, long[]> declared) {
        ModelWeights w = TestEngine.folder(Golden.model().resolve(key)).weights();
        assertEquals(new TreeSet<>(w.names()), new TreeSet<>(declared.keySet()), key);
        declared.forEach((name, shape) -> assertArrayEquals(w.shape(name), shape, key + ": " + name));
    }

    private static ModelConfig config(String key) {
        return TestEngine.folder(Golden.model().resolve(key)).config();
    }

    @Test
    void textEncoders() {
        Map<String, Map<String, long[]>> shapes = new SdxlTextEncoderFactory().weightShapes(
                Map.of("text_encoder", config("text_encoder"), "text_encoder_2", config("text_encoder_2")));
        assertLayout("text_encoder", shapes.get("text_encoder"));
        assertLayout("text_encoder_2", shapes.get("text_encoder_2"));
    }

    @Test
    void imageEncoder() {
        assertLayout("image_encoder", new SdxlImageEncoderFactory()
                .weightShapes(Map.of("image_encoder", config("image_encoder"))).get("image_encoder"));
    }
}

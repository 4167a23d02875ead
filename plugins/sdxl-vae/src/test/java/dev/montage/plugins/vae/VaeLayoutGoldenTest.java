package dev.montage.plugins.vae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.LocalModelFolder;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The declared VAE layout is exactly the golden checkpoint's. */
class VaeLayoutGoldenTest {
    @Test
    void matchesTheGoldenCheckpoint() {
        LocalModelFolder folder = TestEngine.folder(Golden.model().resolve("vae"));
        Map<String, long[]> declared = new SdxlVaeFactory().weightShapes(Map.of("vae", folder.config())).get("vae");
        ModelWeights w = folder.weights();
        assertEquals(new TreeSet<>(w.names()), new TreeSet<>(declared.keySet()));
        declared.forEach((name, shape) -> assertArrayEquals(w.shape(name), shape, name));
    }
}

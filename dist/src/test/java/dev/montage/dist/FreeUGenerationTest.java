package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.montage.api.GenerationRequest;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * FreeU, the UNet's {@code options.unet.freeu}: whole generations with it in the engine's dtype, recorded among the
 * component options; scales of 1 are the plain UNet.
 */
class FreeUGenerationTest {
    private static final GenerationRequest REQUEST = GenerationRequest.builder("a dog").size(32, 32).steps(3).seed(5)
            .guidanceScale(3).build();

    @Test
    void freeUChangesTheLatentsAndIsRecorded() {
        float[] plain = latents(null);
        float[] freeU = latents("0.9,0.2,1.3,1.4");
        assertFalse(Arrays.equals(plain, freeU), "FreeU changes the result");
        assertArrayEquals(freeU, latents("0.9,0.2,1.3,1.4"), "the same latents again");
        assertArrayEquals(plain, latents("1,1,1,1"), "scales of 1 are the plain UNet");
        try (MontagePipeline p = pipeline("0.9,0.2,1.3,1.4")) {
            assertEquals("0.9,0.2,1.3,1.4", p.generate(REQUEST, ProgressListener.NONE).parameters()
                    .get("options.unet.freeu"));
        }
    }

    private static float[] latents(String freeU) {
        try (MontagePipeline p = pipeline(freeU)) {
            Latents[] out = new Latents[1];
            p.generate(REQUEST, ProgressListener.NONE, out);
            return out[0].values();
        }
    }

    private static MontagePipeline pipeline(String freeU) {
        MontagePipeline.Builder b = TestEngine.pipeline(ComponentRegistry.fromClasspath(
                FreeUGenerationTest.class.getClassLoader()), TinyModel.folder());
        return (freeU == null ? b : b.setting("options.unet.freeu", freeU)).build();
    }
}

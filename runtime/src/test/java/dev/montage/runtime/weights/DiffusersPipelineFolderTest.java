package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.testing.Golden;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiffusersPipelineFolderTest {
    @TempDir
    Path dir;

    @Test
    void readsTheGoldenModelIndex() {
        DiffusersPipelineFolder p = DiffusersPipelineFolder.open(Golden.model());
        assertEquals("StableDiffusionXLPipeline", p.pipelineClass());
        assertEquals(List.of("scheduler", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet", "vae"),
                List.copyOf(p.components().keySet()));
        assertEquals("CLIPTextModelWithProjection", p.components().get("text_encoder_2").className());
        assertTrue(p.forceZerosForEmptyPrompt());
        assertEquals(Golden.model().resolve("unet"), p.componentFolder("unet"));
    }

    @Test
    void skipsAbsentOptionalComponentsAndNamesMissingOnes() throws IOException {
        Files.writeString(dir.resolve("model_index.json"),
                "{\"_class_name\":\"X\",\"unet\":[\"diffusers\",\"UNet2DConditionModel\"],\"feature_extractor\":[null,null]}");
        DiffusersPipelineFolder p = DiffusersPipelineFolder.open(dir);
        assertEquals(List.of("unet"), List.copyOf(p.components().keySet()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.componentFolder("unet"));
        assertTrue(e.getMessage().contains("its folder") && e.getMessage().contains("is missing"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> p.componentFolder("vae"));
        assertTrue(e.getMessage().contains("no component 'vae'"), e.getMessage());
    }

    @Test
    void namesTheFileOfMalformedJson() throws IOException {
        Files.writeString(dir.resolve("model_index.json"), "{\"unet\": [\"diffusers\", ");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DiffusersPipelineFolder.open(dir));
        assertTrue(e.getMessage().contains("model_index.json is not valid JSON"), e.getMessage());
        Files.writeString(dir.resolve("model_index.json"), "{\"unet\": [\"diffusers\"]}");
        e = assertThrows(IllegalArgumentException.class, () -> DiffusersPipelineFolder.open(dir));
        assertTrue(e.getMessage().contains("component 'unet' must be [library, class]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DiffusersPipelineFolder.open(dir.resolve("x")));
        assertTrue(e.getMessage().contains("model_index.json is missing"), e.getMessage());
    }
}

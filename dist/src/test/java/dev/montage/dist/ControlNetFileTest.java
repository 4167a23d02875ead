package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.host.ModelFolder;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A ControlNet given as one weights file ({@code models.controlnets.<type>}), in diffusers' or the original layout,
 * configured from the base model's UNet: the golden ControlNet's tensors bit for bit, or a refusal naming what the
 * file holds.
 */
class ControlNetFileTest {
    private static final String KEY = ModelPaths.CONTROLNET_KEY_PREFIX + "canny";
    private final ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());

    @TempDir
    Path dir;

    private FolderComponentContext context(Path file) {
        return new FolderComponentContext(TestEngine.engine(), ModelPaths.of(Golden.model()).with(KEY, file)
                .withDefaults(registry.modelFiles().values()), Map.of(), registry.singleFileLayouts(),
                registry::published);
    }

    @ParameterizedTest
    @ValueSource(strings = {"diffusers", "original", "control_model."})
    void everyTensorIsTheFoldersBitForBitWithTheUNetsConfiguration(String layout) throws Exception {
        Path file = layout.equals("diffusers") ? ControlNetFiles.diffusers(dir.resolve("cn.safetensors"))
                : ControlNetFiles.original(dir.resolve("cn.safetensors"), layout.equals("original") ? "" : layout,
                        n -> false);
        try (FolderComponentContext context = context(file)) {
            ModelFolder mapped = context.model(KEY);
            SingleFileTest.assertSameTensors(TestEngine.folder(Golden.model().resolve("controlnet")).weights(),
                    mapped.weights());
            assertTrue(mapped.config().source().contains(Golden.model().resolve("unet/config.json").toString()),
                    mapped.config().source());
            assertEquals(List.of(16, 32, 32, 32), mapped.config().getIntList("conditioning_embedding_out_channels",
                    1, 1024), "the conditioning embedding as the file has it, not from_unet's default");
        }
    }

    @Test
    void aFileWithMissingTensorsIsRefusedNamingThem() throws Exception {
        Path file = ControlNetFiles.original(dir.resolve("cn.safetensors"), "control_model.",
                n -> n.equals("zero_convs.3.0.weight"));
        try (FolderComponentContext context = context(file)) {
            String message = assertThrows(IllegalArgumentException.class, () -> context.model(KEY)).getMessage();
            assertTrue(message.contains("model '" + KEY + "'") && message.contains("the ControlNet (control_model.*)")
                    && message.contains("1 missing [control_model.zero_convs.3.0.weight"), message);
        }
    }

    @Test
    void aFileOfAnotherArchitectureIsRefusedNamingWhatWasFound() throws Exception {
        try (FolderComponentContext context = context(Golden.singleFile("tiny-sdxl.safetensors"))) {
            String message = assertThrows(IllegalArgumentException.class, () -> context.model(KEY)).getMessage();
            assertTrue(message.contains("holds none of the models " + KEY) && message.contains("model.diffusion_model")
                    && message.contains("first_stage_model"), message);
        }
        // a Stable Diffusion 1.x/2.x ControlNet has no added embedding
        Path sd15 = ControlNetFiles.original(dir.resolve("sd15.safetensors"), "", n -> n.startsWith("label_emb."));
        try (FolderComponentContext context = context(sd15)) {
            String message = assertThrows(IllegalArgumentException.class, () -> context.model(KEY)).getMessage();
            assertTrue(message.contains("a Stable Diffusion 1.x/2.x ControlNet"), message);
        }
    }
}

package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.montage.api.ConfigurationException;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.runtime.config.ProfileException;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link MontagePipeline.Builder#build()} checks that the components fit together from their configuration files
 * before any weight is read: each test writes Montage's tiny random model and edits one size in one config.json,
 * keeping weights that no longer fit the edited size (the profile check reads their headers, so they must be there),
 * and expects the mismatch (both components, file and key, both values), not the shape error that loading them
 * would give.
 */
class AssemblyValidationTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static ComponentRegistry registry() {
        return TinyModel.registry();
    }

    private Path model() throws IOException {
        RandomModel.write(dir, "tiny", TensorDType.F32, 7, registry());
        return dir;
    }

    private static void edit(Path file, String key, int value) throws IOException {
        ObjectNode config = (ObjectNode) JSON.readTree(file.toFile());
        config.put(key, value);
        JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), config);
    }

    private static String mismatch(MontagePipeline.Builder builder) {
        String message = assertThrows(ConfigurationException.class, builder::build).getMessage();
        System.out.println(message);
        assertTrue(message.startsWith("the pipeline's components do not fit together"), message);
        return message;
    }

    private static MontagePipeline.Builder builder(Path folder) {
        return TestEngine.pipeline(registry(), folder);
    }

    @Test
    void theTinyRandomModelWithControlNetValidatesClean() throws IOException {
        Path folder = model();
        assertDoesNotThrow(() -> builder(folder).controlTypes(List.of("canny")).validate());
    }

    @Test
    void theGoldenModelValidatesClean() {
        Path golden = Golden.model();
        assertDoesNotThrow(() -> builder(golden).validate());
        assertDoesNotThrow(() -> builder(golden).setting("models.controlnets.canny", golden.resolve("controlnet"))
                .validate());
    }

    /** Writes the model, sets one key of one of its configuration files and builds. */
    private String mismatchAfterSetting(String file, String key, int value) throws IOException {
        Path folder = model();
        edit(folder.resolve(file), key, value);
        return mismatch(builder(folder));
    }

    @Test
    void aResamplerOutputWidthOtherThanTheUNetCrossAttentionIsNamed() throws IOException {
        String message = mismatchAfterSetting("resampler_config.json", "output_dim", 72);
        assertTrue(message.contains("denoising model 'sdxl-unet' expects subject.width = 64 ("
                + dir.resolve("unet/config.json") + " 'cross_attention_dim') but subject resampler 'ms-diffusion' "
                + "provides 72 (" + dir.resolve("resampler_config.json") + " 'output_dim')"), message);
        assertEquals(1, message.lines().filter(l -> l.startsWith("  - ")).count(), message);
    }

    @Test
    void aUNetCrossAttentionWidthOtherThanTheTextAndSubjectWidthsIsNamedForEach() throws IOException {
        String message = mismatchAfterSetting("unet/config.json", "cross_attention_dim", 48);
        assertTrue(message.contains("denoising model 'sdxl-unet' expects text.hidden = 48 ("
                + dir.resolve("unet/config.json") + " 'cross_attention_dim') but text encoder 'sdxl-clip' provides 64 ("
                + dir.resolve("text_encoder/config.json") + " 'hidden_size' + "
                + dir.resolve("text_encoder_2/config.json") + " 'hidden_size')"), message);
        assertTrue(message.contains("denoising model 'sdxl-unet' expects subject.width = 48"), message);
    }

    @Test
    void vaeLatentChannelsOtherThanTheUNetChannelsAreNamed() throws IOException {
        String message = mismatchAfterSetting("vae/config.json", "latent_channels", 8);
        assertTrue(message.contains("'in_channels') but latent decoder 'sdxl-vae' provides 8 ("
                + dir.resolve("vae/config.json") + " 'latent_channels')"), message);
        assertTrue(message.contains("'out_channels') but latent decoder 'sdxl-vae' provides 8"), message);
    }

    @Test
    void aControlNetThatIsNotForRgbImagesOrThisTextEncoderIsNamed() throws IOException {
        Path folder = model();
        Path config = folder.resolve("controlnet/config.json");
        edit(config, "conditioning_channels", 1);
        edit(config, "projection_class_embeddings_input_dim", 1000);
        String message = mismatch(builder(folder).controlTypes(List.of("canny")));
        assertTrue(message.contains("ControlNet 'sdxl-controlnet' of control type 'canny' expects control.channels = 1 ("
                + config + " 'conditioning_channels') but Montage (RGB control images) provides 3"), message);
        assertTrue(message.contains("ControlNet 'sdxl-controlnet' of control type 'canny' expects text.pooled = "),
                message);
        assertTrue(message.contains("'projection_class_embeddings_input_dim' - 6 x 'addition_time_embed_dim') but "
                + "text encoder 'sdxl-clip' provides"), message);
    }

    @Test
    void optionsTheComponentsDoNotDeclareOrAcceptAreNamedBeforeAnyWeightIsRead() throws IOException {
        Path folder = model();
        ProfileException e = assertThrows(ProfileException.class, () -> builder(folder)
                .setting("options.decoder.upcast", "half").setting("options.decoder.tilng", "true")
                .setting("options.scheduler.timestep_spacing", "sideways")
                .setting("options.text_encoder.clip_skip", "2").setting("options.unet.freeu", "0.9,0.2").build());
        assertEquals(List.of(
                "options.text_encoder.clip_skip: unknown option (expected an option of text encoder 'sdxl-clip': "
                        + "prompt_weighting)",
                "options.unet.freeu: expected four positive scales s1,s2,b1,b2, e.g. 0.9,0.2,1.3,1.4, got '0.9,0.2'",
                "options.scheduler.timestep_spacing: expected one of linspace, leading, trailing, got 'sideways'",
                "options.decoder.tilng: unknown option; did you mean tiling? (expected an option of latent decoder "
                        + "'sdxl-vae': upcast, slicing, tiling, tile_size)",
                "options.decoder.upcast: expected one of auto, always, never, got 'half'"),
                e.problems().stream().map(p -> p.key() + ": " + p.message()).toList());
        builder(folder).setting("options.scheduler.solver_order", "1").validate();
    }

    @Test
    void everyProblemIsReportedAtOnce() throws IOException {
        Path folder = model();
        edit(folder.resolve("vae/config.json"), "latent_channels", 8);
        edit(folder.resolve("resampler_config.json"), "embedding_dim", 5);
        Files.delete(folder.resolve("text_encoder_2/config.json"));
        String message = mismatch(builder(folder));
        assertTrue(message.contains("latent decoder 'sdxl-vae' provides 8"), message);
        assertTrue(message.contains("subject resampler 'ms-diffusion' expects image.hidden = 5"), message);
        assertTrue(message.contains("text encoder 'sdxl-clip': ") && message.contains("text_encoder_2"), message);
    }

    @Test
    void componentsGivenAsInstancesAreNotChecked() throws IOException {
        Path folder = model();
        edit(folder.resolve("unet/config.json"), "cross_attention_dim", 48);
        DenoisingModel unet = (DenoisingModel) Proxy.newProxyInstance(DenoisingModel.class.getClassLoader(),
                new Class<?>[] {DenoisingModel.class}, (proxy, method, args) -> {
                    throw new UnsupportedOperationException(method.getName());
                });
        // past the check, the assembly asks the given UNet for its attention layers
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> builder(folder).set(ComponentKind.DENOISING_MODEL, unet).build());
        assertEquals("attentionLayers", e.getMessage());
    }

    @Test
    void theEmbeddingBuilderGenerateAndProfileCheckReportTheMismatchBeforeReadingWeights() throws IOException {
        Path folder = model();
        Path config = folder.resolve("vae/config.json");
        edit(config, "latent_channels", 8);
        // the profile check wants readable weight files; loading these (4 latent channels) would fail on a shape
        String expected = "latent decoder 'sdxl-vae' provides 8 (" + config + " 'latent_channels')";

        ConfigurationException e = assertThrows(ConfigurationException.class, () -> builder(folder).build());
        assertTrue(e.getMessage().startsWith("the pipeline's components do not fit together")
                && e.getMessage().contains(expected), e.getMessage());

        CommandRun run = CommandRun.montage("generate", "--model", folder.toString(), "-p", "a dog", "--out",
                dir.resolve("images").toString());
        System.out.println(run.err());
        assertEquals(2, run.code(), run.err());
        assertTrue(run.err().startsWith("montage: the pipeline's components do not fit together")
                && run.err().contains(expected), run.err());
        assertEquals("", run.out());

        CommandRun check = CommandRun.montage("profile", "check", "--model", folder.toString());
        assertEquals(2, check.code(), check.err());
        assertTrue(check.err().startsWith("montage: the pipeline's components do not fit together")
                && check.err().contains(expected), check.err());
        assertEquals("", check.out());
    }
}

package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationResult;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** Single-file checkpoints in the original layout, and VAE files, read as they are. */
class SingleFileTest {
    private static final String CASE = "plain_sdxl_euler";
    private final ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());

    @TempDir
    Path dir;

    private static Path checkpoint() {
        return Golden.singleFile("tiny-sdxl.safetensors");
    }

    private static Path vaeFile() {
        return Golden.singleFile("tiny-sdxl-vae.safetensors");
    }

    private FolderComponentContext context(ModelPaths paths) {
        return new FolderComponentContext(TestEngine.engine(), paths.withDefaults(registry.modelFiles().values()),
                Map.of(), registry.singleFileLayouts());
    }

    private static ModelPaths singleFile(Path file) {
        return new ModelPaths(Optional.of(file), Map.of(), Optional.empty()).withConfig(Golden.model());
    }

    @ParameterizedTest
    @ValueSource(strings = {"unet", "vae", "text_encoder", "text_encoder_2"})
    void everyTensorOfTheSingleFileIsTheFoldersBitForBit(String key) {
        try (FolderComponentContext context = context(singleFile(checkpoint()))) {
            assertSameTensors(TestEngine.folder(Golden.model().resolve(key)).weights(), context.model(key).weights());
        }
    }

    @Test
    void aVaeFileInEitherLayoutIsTheFoldersVae() throws Exception {
        Path diffusersLayout = dir.resolve("vae-diffusers.safetensors");
        List<RawTensor> folderVae = new ArrayList<>();
        try (SafetensorsReader reader = SafetensorsReader.open(
                Golden.model().resolve("vae/diffusion_pytorch_model.safetensors"))) {
            reader.names().forEach(n -> folderVae.add(reader.tensor(n)));
            SafetensorsWriter.write(diffusersLayout, Map.of(), folderVae);
        }
        for (Path file : List.of(vaeFile(), diffusersLayout)) {
            try (FolderComponentContext context = context(ModelPaths.of(Golden.model()).with("vae", file))) {
                assertEquals(file, context.model("vae").path());
                assertSameTensors(TestEngine.folder(Golden.model().resolve("vae")).weights(),
                        context.model("vae").weights());
            }
        }
    }

    @Test
    void theSingleFileReproducesThePlainGoldenCase() throws Exception {
        MontagePipeline.Builder builder = TestEngine.pipeline(registry, checkpoint())
                .setting("models.config", Golden.model().toString()).withoutSubjects();
        try (GoldenTensors golden = GoldenTensors.open(CASE); MontagePipeline pipeline = builder.build()) {
            Latents[] latents = new Latents[1];
            GenerationResult result = pipeline.generate(PipelineGoldenTest.request(CASE, "euler", golden),
                    ProgressListener.NONE, latents);
            double error = golden.assertClose("final_latents", latents[0].values(), 1e-3);
            System.out.printf("single file %s: final latents max error %.3g%n", CASE, error);
            assertEquals(1, result.images().size());
        }
    }

    @Test
    void theCommandGeneratesTheGoldenCaseFromTheSingleFile() throws Exception {
        Path saved = dir.resolve("latents.safetensors");
        StringWriter err = new StringWriter();
        CommandLine cli = Montage.commandLine();
        cli.setErr(new PrintWriter(err, true));
        cli.setOut(new PrintWriter(new StringWriter(), true));
        int code = cli.execute("generate", "--model", checkpoint().toString(), "--set",
                "models.config=" + Golden.model(), "--device", "cpu", "--dtype", "float32",
                "--prompt", "a photo of a red fox in a snowy forest, golden hour, highly detailed",
                "--negative-prompt", "blurry, lowres, watermark, text", "--width", "64", "--height", "64",
                "--steps", "4", "--guidance", "5.0", "--scheduler", "euler", "--init-latents",
                Golden.caseDir(CASE).resolve(CASE + ".safetensors") + ":init_latents",
                "--save-latents", saved.toString(), "--out", dir.resolve("out").toString());
        assertEquals(0, code, err.toString());
        try (GoldenTensors golden = GoldenTensors.open(CASE);
                SafetensorsReader reader = SafetensorsReader.open(saved)) {
            float[] values = reader.tensor(reader.names().iterator().next()).toFloatArray();
            double error = golden.assertClose("final_latents", values, 1e-3);
            System.out.printf("single file through the command, %s: final latents max error %.3g%n", CASE, error);
        }
    }

    @Test
    void aTruncatedFileIsNamed() throws Exception {
        Path truncated = dir.resolve("truncated.safetensors");
        byte[] bytes = Files.readAllBytes(checkpoint());
        Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        try (FolderComponentContext context = context(singleFile(truncated))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> context.model("unet"));
            assertTrue(e.getMessage().contains(truncated.toString()), e.getMessage());
        }
    }

    @Test
    void tensorsThatNoComponentReadsAreListed() throws Exception {
        Path file = copy(checkpoint(), n -> true, List.of("model.diffusion_model.extra_head.weight",
                "denoiser.sigmas"));
        try (FolderComponentContext context = context(singleFile(file))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> context.model("vae"));
            assertTrue(e.getMessage().contains("2 tensors that no installed component reads"), e.getMessage());
            assertTrue(e.getMessage().contains("model.diffusion_model.extra_head.weight"), e.getMessage());
        }
    }

    @Test
    void aFileOfAnotherArchitectureIsRefusedNamingWhatWasFound() throws Exception {
        // Stable Diffusion 1.x keeps its text encoder under cond_stage_model and has no added embedding
        Path sd15 = copy(checkpoint(), n -> !n.startsWith("conditioner.") && !n.contains("label_emb"),
                List.of("cond_stage_model.transformer.text_model.final_layer_norm.weight"));
        try (FolderComponentContext context = context(singleFile(sd15))) {
            String message = assertThrows(IllegalArgumentException.class, () -> context.model("unet")).getMessage();
            assertTrue(message.contains("cond_stage_model") && message.contains("Stable Diffusion 1.x/2.x"), message);
            assertTrue(message.contains("model 'unet'") && message.contains("label_emb"), message);
        }
        Path refiner = copy(checkpoint(), n -> !n.startsWith("conditioner."),
                List.of("conditioner.embedders.0.model.ln_final.weight"));
        try (FolderComponentContext context = context(singleFile(refiner))) {
            String message = assertThrows(IllegalArgumentException.class, () -> context.model("unet")).getMessage();
            assertTrue(message.contains("the SDXL refiner"), message);
        }
    }

    @Test
    void aVaeFileWithMissingTensorsNamesThem() throws Exception {
        Path file = copy(vaeFile(), n -> !n.equals("decoder.mid.attn_1.q.weight"), List.of());
        try (FolderComponentContext context = context(ModelPaths.of(Golden.model()).with("vae", file))) {
            String message = assertThrows(IllegalArgumentException.class, () -> context.model("vae")).getMessage();
            assertTrue(message.contains("1 missing [decoder.mid.attn_1.q.weight"), message);
        }
    }

    @Test
    void tokenizersMustComeFromAConfigurationFolder() {
        ModelPaths noConfig = new ModelPaths(Optional.of(checkpoint()), Map.of(), Optional.empty());
        try (FolderComponentContext context = published(noConfig)) {
            for (String key : List.of("tokenizer", "tokenizer_2")) {
                String message = assertThrows(IllegalArgumentException.class, () -> context.model(key)).getMessage();
                assertTrue(message.contains("is a single-file checkpoint, which holds weights only, no tokenizer")
                        && message.contains("set models.config to a folder laid out as a diffusers model that has '"
                                + key + "/'") && message.contains("set models." + key + " in the profile"), message);
            }
        }
    }

    @Test
    void withoutAConfigurationFolderTheSchedulerIsThePublishedOne() {
        ModelPaths noConfig = new ModelPaths(Optional.of(checkpoint()), Map.of(), Optional.empty());
        try (FolderComponentContext context = published(noConfig)) {
            ModelConfig scheduler = context.model("scheduler").json("scheduler_config.json");
            assertTrue(scheduler.source().contains("the published SDXL base 1.0"), scheduler.source());
            assertEquals("EulerDiscreteScheduler", scheduler.getString("_class_name", ""));
        }
        try (FolderComponentContext context = published(singleFile(checkpoint()))) {
            assertEquals(Golden.model().resolve("scheduler/scheduler_config.json").toString(),
                    context.model("scheduler").json("scheduler_config.json").source(),
                    "a configuration folder wins over the published configuration");
        }
    }

    @Test
    void theTinyFileDoesNotFitThePublishedConfiguration() {
        ModelPaths noConfig = new ModelPaths(Optional.of(checkpoint()), Map.of(), Optional.empty());
        try (FolderComponentContext context = published(noConfig)) {
            String message = assertThrows(IllegalArgumentException.class, () -> context.model("unet")).getMessage();
            assertTrue(message.contains("No models.config is set, so the configuration of text_encoder, "
                    + "text_encoder_2, unet, vae is the published one, and the file's shapes do not fit it; set "
                    + "models.config"), message);
            assertTrue(message.contains("model 'unet': " + "model.diffusion_model.label_emb.0.0.weight takes 80 "
                    + "features, the configuration 2816"), message);
        }
    }

    private FolderComponentContext published(ModelPaths paths) {
        return new FolderComponentContext(TestEngine.engine(), paths.withDefaults(registry.modelFiles().values()),
                Map.of(), registry.singleFileLayouts(), registry::published);
    }

    /** The tensors of a file that {@code keep} accepts, plus one-element tensors of the extra names. */
    private Path copy(Path from, Predicate<String> keep, List<String> extra) throws Exception {
        Path file = dir.resolve("copy-" + from.getFileName());
        List<RawTensor> tensors = new ArrayList<>();
        try (SafetensorsReader reader = SafetensorsReader.open(from)) {
            reader.names().stream().filter(keep).forEach(n -> tensors.add(reader.tensor(n)));
            RawTensor one = reader.tensor(reader.names().iterator().next());
            for (String name : extra) {
                tensors.add(new RawTensor(name, one.dtype(), new long[] {1},
                        one.data().limit(one.dtype().byteSize())));
            }
            SafetensorsWriter.write(file, Map.of(), tensors);
        }
        return file;
    }

    static void assertSameTensors(ModelWeights folder, ModelWeights mapped) {
        assertEquals(new java.util.TreeSet<>(folder.names()), new java.util.TreeSet<>(mapped.names()));
        try (NDManager manager = TestEngine.manager().newSubManager()) {
            for (String name : folder.names()) {
                NDArray expected = folder.get(name, manager);
                NDArray actual = mapped.get(name, manager);
                assertEquals(expected.getShape(), actual.getShape(), name);
                assertEquals(expected.getDataType(), actual.getDataType(), name);
                assertArrayEquals(expected.toByteArray(), actual.toByteArray(), name);
            }
        }
    }
}

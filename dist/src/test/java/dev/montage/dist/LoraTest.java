package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.ConfigurationException;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.LoraTarget;
import dev.montage.runtime.config.ProfileException;
import dev.montage.runtime.pipeline.Lora;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.LocalModelFolder;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kohya-ss LoRAs applied at load: {@code lora_kohya_euler} (scale 0.8 on the UNet and both text encoders) as a whole
 * generation through the pipeline (on the model folder and on its single-file checkpoint), a profile's
 * {@code models.loras} and {@code montage generate} against the official implementation's run,
 * every module of the LoRA on the tensor the generator attached it to, and the LoRAs that are refused by name.
 */
class LoraTest {
    static final String CASE = "lora_kohya_euler";

    @TempDir
    Path tmp;

    private static Path loraFile() {
        return DiffusersLoras.kohya();
    }

    private static JsonNode parameters() throws IOException {
        return new ObjectMapper().readTree(Golden.caseDir(CASE).resolve(CASE + ".json").toFile());
    }

    static double scale() throws IOException {
        return parameters().get("cross_attention_kwargs").get("scale").asDouble();
    }

    static MontagePipeline.Builder pipeline() {
        return TestEngine.pipeline(ComponentRegistry.fromClasspath(LoraTest.class.getClassLoader()), Golden.model())
                .withoutSubjects();
    }

    @Test
    void wholeGenerationMatchesTheOfficialRun() throws IOException {
        assertGolden(pipeline().lora(new Lora(loraFile(), scale())), "through the pipeline");
    }

    @Test
    void aProfileListsItsLorasWithPathsRelativeToTheProfile() throws IOException {
        Path profile = Files.writeString(tmp.resolve("lora.yaml"), "models:\n  loras:\n"
                + "    - path: " + tmp.relativize(loraFile()) + "\n      scale: " + scale() + "\n");
        MontagePipeline.Builder builder = pipeline().profile(profile.toString());
        String shown = builder.resolve().describe();
        assertTrue(shown.matches("(?s).*\n  loras:\n    - path: " + Pattern.quote(loraFile().toString())
                + " +# [^\n]*lora.yaml:1\n      scale: " + scale() + " .*"), shown);
        assertGolden(builder, "through models.loras");

        Path missing = Files.writeString(tmp.resolve("missing.yaml"), "models:\n  loras:\n    - scale: 0.5\n"
                + "    - path: nowhere.safetensors\n");
        ProfileException e = assertThrows(ProfileException.class,
                () -> pipeline().profile(missing.toString()).validate());
        assertTrue(e.getMessage().contains("models.loras[0].path: not set; expected a LoRA (.safetensors)")
                && e.getMessage().contains("models.loras[1].path: " + tmp.resolve("nowhere.safetensors")
                        + " does not exist"), e.getMessage());
    }

    /** A single-file checkpoint's models are mapped to the diffusers names, and the LoRA applies to them alike. */
    @Test
    void aSingleFileBaseTakesTheLora() throws IOException {
        assertGolden(TestEngine.pipeline(ComponentRegistry.fromClasspath(getClass().getClassLoader()),
                        Golden.singleFile("tiny-sdxl.safetensors"))
                .setting("models.config", Golden.model().toString()).withoutSubjects()
                .lora(new Lora(loraFile(), scale())), "on the single-file checkpoint");
    }

    /** The case's request. */
    static GenerationRequest request(GoldenTensors golden) throws IOException {
        JsonNode json = parameters();
        return GenerationRequest.builder(json.get("prompt").asText())
                .negativePrompt(json.get("negative_prompt").asText())
                .size(json.get("width").asInt(), json.get("height").asInt())
                .steps(json.get("steps").asInt())
                .guidanceScale(json.get("guidance_scale").asDouble())
                .scheduler("euler")
                .initLatents(new Latents(golden.shape("init_latents"), golden.floats("init_latents")))
                .build();
    }

    private static void assertGolden(MontagePipeline.Builder builder, String how) throws IOException {
        try (GoldenTensors golden = GoldenTensors.open(CASE); MontagePipeline pipeline = builder.build()) {
            Latents[] latents = new Latents[1];
            GenerationResult result = pipeline.generate(request(golden), ProgressListener.NONE, latents);
            golden.assertClose("final_latents", latents[0].values(), golden.tolerance("final_latents"));
            PipelineGoldenTest.assertImageMatches(CASE + " " + how, image(), result.images().get(0));
        }
    }

    @Test
    void generateCommandAppliesTheLoraWithItsScale() throws IOException {
        Path out = tmp.resolve("float32");
        float[] values = generate(out, "float32", "--lora", loraFile() + ":" + scale());
        try (GoldenTensors golden = GoldenTensors.open(CASE)) {
            double error = golden.assertClose("final_latents", values, golden.tolerance("final_latents"));
            System.out.printf("golden %s through montage generate: final latents max |diff| %.3g%n", CASE, error);
        }
        try (var written = Files.list(out.resolve("images"))) {
            assertTrue(PipelineGoldenTest.maxLevelDifference(image(),
                    ImageIO.read(written.findFirst().orElseThrow().toFile())) <= 1, "the written image");
        }
    }

    /**
     * In bfloat16 the LoRA's changes are computed and added in bfloat16: the result stays far closer to the official
     * float32 run with the LoRA than the same bfloat16 generation without it.
     */
    @Test
    void theLoraAppliesInBfloat16Too() throws IOException {
        float[] with = generate(tmp.resolve("with"), "bfloat16", "--lora", loraFile() + ":" + scale());
        float[] without = generate(tmp.resolve("without"), "bfloat16");
        try (GoldenTensors golden = GoldenTensors.open(CASE)) {
            float[] official = golden.floats("final_latents");
            double withError = GoldenTensors.maxAbsDiff(official, with);
            double withoutError = GoldenTensors.maxAbsDiff(official, without);
            System.out.printf("%s in bfloat16: final latents max |diff| %.3g with the LoRA, %.3g without%n", CASE,
                    withError, withoutError);
            assertTrue(withError < withoutError / 4, withError + " with the LoRA, " + withoutError + " without");
        }
    }

    /** Under MS-Diffusion's subjects the LoRA adapts the same models and changes the generation. */
    @Test
    void aLoraActsUnderMsDiffusionSubjects() throws IOException {
        String name = "single_subject_euler";
        ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());
        try (GoldenTensors golden = GoldenTensors.open(name);
                MontagePipeline plain = TestEngine.pipeline(registry, Golden.model()).build();
                MontagePipeline adapted = TestEngine.pipeline(registry, Golden.model())
                        .lora(new Lora(loraFile(), scale())).build()) {
            GenerationRequest request = PipelineGoldenTest.request(name, "euler", golden);
            Latents[] without = new Latents[1];
            Latents[] with = new Latents[1];
            plain.generate(request, ProgressListener.NONE, without);
            adapted.generate(request, ProgressListener.NONE, with);
            golden.assertClose("final_latents", without[0].values(), 1e-3);
            assertTrue(GoldenTensors.maxAbsDiff(without[0].values(), with[0].values()) > 1e-2,
                    "the LoRA changes the subjects' generation");
        }
    }

    /**
     * A variant with a LoRA gives the official run with it; its pipeline keeps giving what it gave before, while the
     * variant is open and after; a refused LoRA leaves no variant; closing the pipeline closes its variants.
     */
    @Test
    void aVariantTakesTheLoraAndLeavesItsPipelineAsItWas() throws IOException {
        try (GoldenTensors golden = GoldenTensors.open(CASE); MontagePipeline pipeline = pipeline().build()) {
            GenerationRequest request = request(golden);
            float[] before = finalLatents(pipeline, request);
            MontagePipeline variant = pipeline.withLoras(List.of(new Lora(loraFile(), scale())));
            golden.assertClose("final_latents", finalLatents(variant, request), golden.tolerance("final_latents"));
            assertArrayEquals(before, finalLatents(pipeline, request), "while the variant is open");
            assertTrue(variant.generate(request).parameters().get(Lora.parameterKey(0)).startsWith(loraFile() + ":" + scale()));
            assertThrows(IllegalStateException.class, () -> variant.withLoras(List.of()));

            Path other = tmp.resolve("other.safetensors");
            SafetensorsWriter.write(other, Map.of(), List.of(new RawTensor(
                    "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", TensorDType.F32,
                    new long[] {1, 1}, ByteBuffer.allocate(4))));
            ConfigurationException refused = assertThrows(ConfigurationException.class,
                    () -> pipeline.withLoras(List.of(new Lora(other, 1))));
            assertTrue(refused.getMessage().contains(other.toString()), refused.getMessage());

            variant.close();
            assertArrayEquals(before, finalLatents(pipeline, request), "after the variant");
            MontagePipeline open = pipeline.withLoras(List.of(new Lora(loraFile(), 0.5)));
            pipeline.close();
            assertThrows(IllegalStateException.class, () -> open.generate(request));
        }
    }

    private static float[] finalLatents(MontagePipeline pipeline, GenerationRequest request) {
        Latents[] latents = new Latents[1];
        pipeline.generate(request, ProgressListener.NONE, latents);
        return latents[0].values();
    }

    /** {@code montage generate} of the case's request in {@code dtype}; its final latents. */
    static float[] generate(Path out, String dtype, String... more) throws IOException {
        JsonNode json = parameters();
        Path latents = out.resolve("latents.safetensors");
        List<String> args = new ArrayList<>(List.of("generate", "--model", Golden.model().toString(),
                "--device", "cpu", "--dtype", dtype,
                "-p", json.get("prompt").asText(), "--negative-prompt", json.get("negative_prompt").asText(),
                "--width", json.get("width").asText(), "--height", json.get("height").asText(),
                "--steps", json.get("steps").asText(), "--guidance", json.get("guidance_scale").asText(),
                "--scheduler", "euler",
                "--init-latents", Golden.caseDir(CASE).resolve(CASE + ".safetensors") + ":init_latents",
                "--save-latents", latents.toString(), "-o", out.resolve("images").toString()));
        args.addAll(List.of(more));
        CommandRun run = CommandRun.montage(args.toArray(String[]::new));
        assertEquals(0, run.code(), run.err());
        try (SafetensorsReader saved = SafetensorsReader.open(latents)) {
            return saved.tensor(saved.names().iterator().next()).toFloatArray();
        }
    }

    /** The generator's record of the module each kohya-ss name was attached to, for all 192 of them. */
    @Test
    void everyModuleNamesTheTensorTheGeneratorAttachedItTo() throws IOException {
        JsonNode truth = new ObjectMapper().readTree(Golden.dir().resolve("lora/tiny-lora-kohya.json").toFile())
                .get("kohya_name_to_module");
        ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());
        Map<String, String> mapped = new HashMap<>();
        for (ComponentKind kind : List.of(ComponentKind.TEXT_ENCODER, ComponentKind.DENOISING_MODEL)) {
            for (String id : registry.ids(kind)) {
                ComponentFactory<?> factory = registry.factory(kind, id, Object.class);
                if (factory instanceof LoraTarget target) {
                    target.loraPrefixes().forEach((key, prefix) -> {
                        try (LocalModelFolder folder = TestEngine.folder(Golden.model().resolve(key))) {
                            target.loraModules(key, folder.weights().names())
                                    .forEach((module, tensor) -> mapped.put(prefix + "_" + module, key + ":" + tensor));
                        }
                    });
                }
            }
        }
        assertEquals(192, truth.size());
        truth.fields().forEachRemaining(e -> {
            String key = e.getKey().startsWith("lora_unet_") ? "unet"
                    : e.getKey().startsWith("lora_te1_") ? "text_encoder" : "text_encoder_2";
            assertEquals(key + ":" + e.getValue().asText() + ".weight", mapped.get(e.getKey()), e.getKey());
        });
    }

    @Test
    void severalLorasAddUpAndScaleZeroChangesNothing() throws IOException {
        // a LoRA at 0.5 twice is the LoRA at 1.0; at 0 it is no LoRA
        GenerationRequest request = GenerationRequest.builder("a cozy cabin").size(64, 64).steps(2).seed(7).build();
        float[] once = finalLatents(pipeline().lora(new Lora(loraFile(), 1.0)), request);
        float[] twice = finalLatents(pipeline().lora(new Lora(loraFile(), 0.5)).lora(new Lora(loraFile(), 0.5)),
                request);
        float[] none = finalLatents(pipeline(), request);
        float[] zero = finalLatents(pipeline().lora(new Lora(loraFile(), 0)), request);
        assertTrue(GoldenTensors.maxAbsDiff(once, twice) < 1e-3, "two halves add up to the whole");
        assertTrue(GoldenTensors.maxAbsDiff(once, none) > 0.1, "the LoRA changes the generation");
        assertEquals(0, GoldenTensors.maxAbsDiff(none, zero), "scale 0 adds zero");
    }

    static float[] finalLatents(MontagePipeline.Builder builder, GenerationRequest request) {
        try (MontagePipeline pipeline = builder.build()) {
            Latents[] latents = new Latents[1];
            pipeline.generate(request, ProgressListener.NONE, latents);
            return latents[0].values();
        }
    }

    @Test
    void unmatchedModulesAreListedUnlessIgnored() throws IOException {
        Path lora = withModule("lora_unet_input_blocks_9_1_proj_in", new long[] {4, 64}, new long[] {64, 4});
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> pipeline().lora(new Lora(lora, 1)).validate());
        assertTrue(e.getMessage().contains("1 of its 193 modules name no layer")
                && e.getMessage().contains("[lora_unet_input_blocks_9_1_proj_in]"), e.getMessage());
        pipeline().lora(new Lora(lora, 1)).ignoreUnmatchedLoraModules().validate();
    }

    @Test
    void aRankMismatchIsNamed() throws IOException {
        Path lora = tmp.resolve("ranks.safetensors");
        module(new SafetensorsWriter(), "lora_unet_input_blocks_4_1_proj_out", new long[] {4, 64},
                new long[] {64, 8}).write(lora);
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> pipeline().lora(new Lora(lora, 1)).validate());
        assertTrue(e.getMessage().contains("'lora_unet_input_blocks_4_1_proj_out' has rank 4 in "
                + "lora_unet_input_blocks_4_1_proj_out.lora_down.weight [4, 64] but 8 in "
                + "lora_unet_input_blocks_4_1_proj_out.lora_up.weight [64, 8]"), e.getMessage());
    }

    @Test
    void aLoraForAnotherArchitectureIsNamed() throws IOException {
        // Stable Diffusion 1.x names its one text encoder lora_te, and its layers are wider
        Path sd1 = tmp.resolve("sd1.safetensors");
        module(new SafetensorsWriter(), "lora_te_text_model_encoder_layers_0_mlp_fc1", new long[] {4, 768},
                new long[] {3072, 4}).write(sd1);
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> pipeline().lora(new Lora(sd1, 1)).validate());
        assertTrue(e.getMessage().contains("is for another architecture: none of its 1 modules"), e.getMessage());

        Path wider = tmp.resolve("wider.safetensors");
        module(new SafetensorsWriter(), "lora_unet_input_blocks_4_1_proj_in", new long[] {4, 640},
                new long[] {640, 4}).write(wider);
        e = assertThrows(ConfigurationException.class, () -> pipeline().lora(new Lora(wider, 1)).validate());
        assertTrue(e.getMessage().contains("is for another architecture: 1 of its modules do not fit their layers: "
                + "[lora_unet_input_blocks_4_1_proj_in changes [640, 640], model 'unet' tensor "
                + "'down_blocks.1.attentions.0.proj_in.weight' is [64, 64]]"), e.getMessage());
    }

    @Test
    void aScaleIsANumberAfterTheLastColon() {
        assertEquals(new Lora(Path.of("a:b/style.safetensors"), 0.8), Lora.parse("a:b/style.safetensors:0.8"));
        assertEquals(new Lora(Path.of("style.safetensors"), 1.0), Lora.parse("style.safetensors"));
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> Lora.parse("style.safetensors:strong"));
        assertTrue(e.getMessage().contains("scale 'strong' is not a number"), e.getMessage());
    }

    /** The golden LoRA with one more module. */
    private Path withModule(String name, long[] down, long[] up) throws IOException {
        Path file = tmp.resolve("extra.safetensors");
        SafetensorsWriter writer = new SafetensorsWriter();
        try (SafetensorsReader golden = SafetensorsReader.open(loraFile())) {
            for (String tensor : golden.names()) {
                RawTensor t = golden.tensor(tensor);
                writer.add(tensor, t.dtype(), t.shape(), t.data());
            }
            module(writer, name, down, up).write(file);
        }
        return file;
    }

    private static SafetensorsWriter module(SafetensorsWriter writer, String name, long[] down, long[] up) {
        return writer.add(name + ".lora_down.weight", TensorDType.F32, down, zeros(down))
                .add(name + ".lora_up.weight", TensorDType.F32, up, zeros(up))
                .add(name + ".alpha", TensorDType.F32, new long[0], zeros(new long[0]));
    }

    static ByteBuffer zeros(long[] shape) {
        return ByteBuffer.allocate(Math.toIntExact(4 * RawTensor.numel(shape))).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static BufferedImage image() throws IOException {
        return ImageIO.read(Golden.caseDir(CASE).resolve("image_0.png").toFile());
    }
}

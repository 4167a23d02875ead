package dev.montage.runtime.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.spi.ComponentKind;
import dev.montage.runtime.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every kind of bad configuration is reported with its source, key and what was expected, all at once. */
class ProfileProblemsTest {
    @TempDir
    Path dir;

    private ProfileResolver resolver() {
        return new ProfileResolver(ProfileCatalog.classpath(getClass().getClassLoader()), FakeModels.registry());
    }

    private String file(String name, String text) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, text);
        return f.toString();
    }

    private List<ProfileProblem> problems(ProfileResolver resolver, String... profiles) {
        ProfileException e = assertThrows(ProfileException.class, () -> resolver.resolve(List.of(profiles)));
        assertTrue(e.getMessage().contains(e.problems().get(0).toString()), e.getMessage());
        return e.problems();
    }

    private static ProfileProblem only(List<ProfileProblem> problems) {
        assertEquals(1, problems.size(), problems::toString);
        return problems.get(0);
    }

    @Test
    void everyProblemOfOneRunIsReported() throws IOException {
        String bad = file("bad.yaml", """
                engine:
                  devcie: cuda
                  dtype: float8
                models:
                  base: missing-folder
                components:
                  unet: sdxl-unett
                defaults:
                  steps: many
                  width: 1001
                """);
        List<ProfileProblem> p = problems(resolver(), bad);
        assertEquals(List.of(
                new ProfileProblem(bad + ":2", "engine.devcie", "unknown key; did you mean engine.device? (expected "
                        + "the keys of engine: device, dtype, threads, interop_threads)"),
                new ProfileProblem(bad + ":9", "defaults.steps", "expected an integer, got the text 'many'"),
                new ProfileProblem(bad + ":3", "engine.dtype", "dtype 'float8' is not supported, expected auto, "
                        + "float32, float16 or bfloat16"),
                new ProfileProblem(bad + ":5", "models.base", dir.resolve("missing-folder") + " does not exist; "
                        + "expected a diffusers pipeline folder (model_index.json, tokenizer/, image_encoder/, "
                        + "scheduler/, unet/)"),
                new ProfileProblem(bad + ":7", "components.unet", "no installed plugin provides the denoising model "
                        + "'sdxl-unett'; did you mean sdxl-unet? (expected one of sdxl-unet)"),
                new ProfileProblem(bad + ":10", "defaults.width", "must be a positive multiple of 8, got 1001")), p);
    }

    @Test
    void wrongTypes() throws IOException {
        String bad = file("types.yaml", """
                engine: cuda
                defaults:
                  guidance: [7, 8]
                  count: 2.5
                models:
                  controlnets: canny
                options:
                  scheduler: {nested: {a: 1}}
                """);
        assertEquals(List.of(
                new ProfileProblem(bad + ":1", "engine", "expected a section with the keys [device, dtype, threads, "
                        + "interop_threads], got the text 'cuda'"),
                new ProfileProblem(bad + ":6", "models.controlnets", "expected a section of names with a path each, "
                        + "got the text 'canny'"),
                new ProfileProblem(bad + ":3", "defaults.guidance", "expected a number, got a list"),
                new ProfileProblem(bad + ":4", "defaults.count", "expected an integer, got the number 2.5"),
                new ProfileProblem(bad + ":8", "options.scheduler.nested", "expected text, got a section")),
                problems(resolver(), bad));
    }

    @Test
    void unknownKeysSuggestTheClosestOneOrTheSectionThatHasIt() throws IOException {
        String bad = file("keys.yaml", "engine:\n  steps: 3\npipelnie: {}\n");
        assertEquals(List.of(
                new ProfileProblem(bad + ":3", "pipelnie", "unknown key; did you mean pipeline? (expected the "
                        + "sections engine, models, components, defaults, options, pipeline)"),
                new ProfileProblem(bad + ":2", "engine.steps", "unknown key; did you mean defaults.steps? (expected "
                        + "the keys of engine: device, dtype, threads, interop_threads)")),
                problems(resolver(), bad));
    }

    @Test
    void badDeviceAndThreadCounts() throws IOException {
        String bad = file("device.yaml", "engine: {device: gpu, threads: -1}\n");
        List<ProfileProblem> p = problems(resolver(), bad);
        assertEquals(List.of("engine.device", "engine.threads"), p.stream().map(ProfileProblem::key).toList());
        assertEquals("device 'gpu' is not supported, expected auto, cpu, cuda or cuda:N (N = 0, 1, ...)",
                p.get(0).message());
        assertEquals(bad + ":1", p.get(0).source());
        assertEquals(new ProfileProblem(bad + ":1", "engine.threads", "expected 0 or more threads (0 = PyTorch's "
                + "default), got -1"), p.get(1));
    }

    @Test
    void syntaxErrorsAndDuplicateKeysNameTheLine() throws IOException {
        String broken = file("broken.yaml", "engine:\n  device: cpu\n   dtype: [\n");
        ProfileProblem p = only(problems(resolver(), broken));
        assertTrue(p.source().startsWith(broken + ":"), p::toString);
        assertTrue(p.message().startsWith("not valid YAML: "), p::toString);
        String twice = file("twice.yaml", "defaults:\n  steps: 3\n  steps: 4\n");
        assertEquals(new ProfileProblem(twice + ":3", "defaults.steps", "is set twice in this file, expected it once"),
                only(problems(resolver(), twice)));
        String list = file("list.json", "[1, 2]");
        assertEquals(new ProfileProblem(list + ":1", "", "a profile is a mapping of sections (engine, models, "
                + "components, defaults, options, pipeline), got a list"), only(problems(resolver(), list)));
    }

    @Test
    void deeplyNestedProfilesAreAProblemNamingTheFile() throws IOException {
        String yaml = file("deep.yaml", "options:\n  scheduler: " + "[".repeat(5000) + "]".repeat(5000) + "\n");
        ProfileProblem p = only(problems(resolver(), yaml));
        assertTrue(p.source().startsWith(yaml), p::toString);
        assertTrue(p.message().contains("nest"), p::toString);
        String json = file("deep.json", "{\"options\": {\"scheduler\": " + "[".repeat(5000) + "]".repeat(5000) + "}}");
        p = only(problems(resolver(), json));
        assertTrue(p.source().startsWith(json), p::toString);
        assertTrue(p.message().contains("nesting depth"), p::toString);
    }

    @Test
    void anOversizedProfileIsRefusedBeforeItIsParsed() throws IOException {
        String huge = file("huge.yaml", "defaults:\n  negative_prompt: " + "a".repeat(20 << 20) + "\n");
        ProfileProblem p = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> only(problems(resolver(), huge)));
        assertEquals(huge, p.source());
        assertTrue(p.message().contains("larger than the 1048576 bytes a profile may have"), p::toString);
    }

    @Test
    void laterDocumentsOfAProfileAreAProblem() throws IOException {
        String two = file("two.yaml", "defaults:\n  steps: 3\n---\ndefaults:\n  steps: 4\n");
        ProfileProblem p = only(problems(resolver(), two));
        assertEquals(two + ":4", p.source());
        assertTrue(p.message().contains("more than one YAML document"), p::toString);
    }

    @Test
    void unknownProfilesSayWhatExists() {
        ProfileProblem p = only(problems(resolver(), "cuda-fp61"));
        assertEquals("cuda-fp61", p.source());
        assertTrue(p.message().startsWith("unknown profile 'cuda-fp61' (expected a profile file such as "
                + "my-models.yaml, or one of the shipped profiles"), p.message());
        assertEquals(new ProfileProblem("nowhere/p.yaml", "", "profile file "
                + Path.of("nowhere/p.yaml").toAbsolutePath() + " does not exist"),
                only(problems(resolver(), "nowhere/p.yaml")));
    }

    @Test
    void environmentVariablesAndSettingsWithBadValuesOrKeys() {
        ProfileResolver r = resolver()
                .environment(Map.of("MONTAGE_ENGINE_DEVIC", "cpu", "MONTAGE_DEFAULTS_STEPS", "eighty"))
                .set("defaults.stepz", 3, "command line --set")
                .set("engine", "cpu", "command line --set");
        assertEquals(List.of(
                new ProfileProblem("environment variable MONTAGE_ENGINE_DEVIC", "engine.devic", "unknown key; did you "
                        + "mean MONTAGE_ENGINE_DEVICE? (expected one of MONTAGE_ENGINE_DEVICE, MONTAGE_ENGINE_DTYPE, "
                        + "MONTAGE_ENGINE_THREADS, MONTAGE_ENGINE_INTEROP_THREADS)"),
                new ProfileProblem("command line --set", "defaults.stepz", "unknown key; did you mean defaults.steps? "
                        + "(expected a dotted key such as engine.device or defaults.steps)"),
                new ProfileProblem("command line --set", "engine", "expected the key of one value inside it, e.g. "
                        + "engine.device"),
                new ProfileProblem("environment variable MONTAGE_DEFAULTS_STEPS", "defaults.steps", "expected an "
                        + "integer, got the text 'eighty'")),
                problems(r));
    }

    @Test
    void componentIdsAreCheckedAgainstTheRegistry() throws IOException {
        String bad = file("ids.yaml", """
                components:
                  attention:
                    cross: ms-difusion
                    layers: {"[unclosed": default, "mid_block.*": flash}
                  conditioner: sdxl-controlnet
                defaults: {scheduler: dpm}
                """);
        List<ProfileProblem> p = problems(resolver(), bad);
        assertEquals(List.of(
                new ProfileProblem(bad + ":5", "components.conditioner", "no installed plugin provides the conditioner "
                        + "'sdxl-controlnet' (expected one of none installed)"),
                new ProfileProblem(bad + ":3", "components.attention.cross", "no installed plugin provides the "
                        + "attention processor 'ms-difusion'; did you mean ms-diffusion? (expected one of default, "
                        + "ms-diffusion, text-only)")), p.subList(0, 2));
        assertEquals("components.attention.layers.\"[unclosed\"", p.get(2).key());
        assertTrue(p.get(2).message().startsWith("expected a regular expression over dotted layer names"));
        assertEquals("components.attention.layers.\"mid_block.*\"", p.get(3).key());
        assertEquals(new ProfileProblem(bad + ":6", "defaults.scheduler", "no installed plugin provides the scheduler "
                + "'dpm'; did you mean ddim? (expected one of ddim, euler)"), p.get(4));
        assertEquals(5, p.size());
        // slots filled by instances are not checked, nor are subject components of a text-only pipeline
        String unused = file("unused.yaml", "components: {unet: mine, resampler: none, image_encoder: none, "
                + "attention: {cross: none}}\n");
        resolver().provided(ComponentKind.DENOISING_MODEL).withoutSubjects().resolve(List.of(unused));
        assertEquals(new ProfileProblem("MontagePipeline.Builder.attention(.*)", "", "no installed plugin provides "
                + "the attention processor 'flash' (expected one of default, ms-diffusion, text-only)"),
                only(problems(resolver().uses(ComponentKind.ATTENTION_PROCESSOR, "flash",
                        "MontagePipeline.Builder.attention(.*)"))));
    }

    @Test
    void missingWeightFoldersAndFiles() throws IOException {
        Path model = FakeModels.model(dir.resolve("model"));
        Files.delete(model.resolve("unet/diffusion_pytorch_model.safetensors"));
        Files.delete(model.resolve("ms_adapter.bin"));
        Files.walk(model.resolve("image_encoder")).sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile()
                .delete());
        Files.delete(model.resolve("scheduler"));
        Files.createDirectories(dir.resolve("canny"));
        String bad = file("models.yaml", "models:\n  base: model\n  resampler_config: model/resampler.json\n"
                + "  controlnets:\n    canny: canny\n    Depth: model/unet\n");
        List<ProfileProblem> p = problems(resolver(), bad);
        assertEquals(List.of("models.base", "models.base", "models.image_encoder", "models.ms_adapter",
                "models.resampler_config", "models.controlnets.canny", "models.controlnets.Depth",
                "models.controlnets.Depth"), p.stream().map(ProfileProblem::key).toList(), p::toString);
        assertTrue(p.get(0).message().startsWith("no weights in " + model.resolve("unet")
                + ": looked for diffusion_pytorch_model.safetensors"), p.get(0).message());
        assertEquals("component 'scheduler' is listed in " + model.resolve("model_index.json") + " but its folder "
                + model.resolve("scheduler") + " is missing", p.get(1).message());
        assertEquals(new ProfileProblem(bad + ":2", "models.image_encoder", "not set, and the base folder has no "
                + "image_encoder/; expected the path of an image encoder folder"), p.get(2));
        assertEquals(new ProfileProblem(bad + ":2", "models.ms_adapter", "not set, and the base folder has no "
                + "ms_adapter.bin; expected the path of the adapter checkpoint"), p.get(3));
        assertEquals(new ProfileProblem(bad + ":3", "models.resampler_config", model.resolve("resampler.json")
                + " does not exist; expected the resampler settings (JSON)"), p.get(4));
        assertEquals(new ProfileProblem(bad + ":5", "models.controlnets.canny", dir.resolve("canny") + " has no "
                + "config.json; expected a ControlNet folder (diffusers ControlNetModel: config.json and weights)"),
                p.get(5));
        assertTrue(p.get(6).message().startsWith("expected a control type"), p.get(6).message());
    }

    @Test
    void corruptWeightFilesAreProblemsBeforeAnythingLoadsThem() throws IOException {
        Path model = FakeModels.model(dir.resolve("model"));
        Path unet = model.resolve("unet/diffusion_pytorch_model.safetensors");
        Files.writeString(unet, "not a weight file");
        Path adapter = model.resolve("ms_adapter.bin");
        Files.writeString(adapter, "not a torch checkpoint");
        String profile = file("models.yaml", "models:\n  base: model\n");
        List<ProfileProblem> p = problems(resolver(), profile);
        assertEquals(List.of("models.base", "models.ms_adapter"), p.stream().map(ProfileProblem::key).toList(),
                p::toString);
        assertTrue(p.get(0).message().contains(unet.toString()) && p.get(0).message().contains("header length"),
                p.get(0).message());
        assertTrue(p.get(1).message().contains(adapter.toString()), p.get(1).message());

        Path explicit = dir.resolve("adapter.bin");
        Files.writeString(explicit, "");
        Files.delete(unet);
        new SafetensorsWriter().write(unet);
        ProfileProblem set = only(problems(resolver(), file("adapter.yaml", "models:\n  base: model\n  ms_adapter: "
                + explicit + "\n")));
        assertEquals("models.ms_adapter", set.key());
        assertTrue(set.message().contains(explicit.toString()), set.message());
    }

    @Test
    void modelKeysAreTheOnesTheInstalledComponentsDeclare() throws IOException {
        Path model = FakeModels.model(dir.resolve("model"));
        Path encoder = FakeModels.weights(dir.resolve("enc"), "model.safetensors");
        Files.writeString(dir.resolve("settings.json"), "{}");
        // a file, the environment and the command line each set a declared key; relative paths are the file's
        String yaml = file("keys.yaml", "models:\n  base: model\n  image_encoder: enc\n");
        ResolvedProfile r = resolver().environment(Map.of("MONTAGE_MODELS_RESAMPLER_CONFIG",
                dir.resolve("settings.json").toString())).set("models.ms_adapter", model.resolve("ms_adapter.bin"),
                "command line --set").resolve(List.of(yaml));
        assertEquals(Map.of("image_encoder", encoder, "resampler_config", dir.resolve("settings.json"),
                "ms_adapter", model.resolve("ms_adapter.bin")), r.profile().models().files());
        assertEquals(model.resolve("ms_adapter.bin"), r.profile().models().toModelPaths().resolve("ms_adapter")
                .orElseThrow());
        assertEquals(Optional.of(model.resolve("unet")), r.profile().models().toModelPaths().withDefaults(
                FakeModels.registry().modelFiles().values()).resolve("unet"));
        // a key no installed component reads is refused, with the closest declared one
        ProfileProblem typo = only(problems(resolver(), file("typo.yaml", "models:\n  base: model\n  ms_adaptor: "
                + model.resolve("ms_adapter.bin") + "\n")));
        assertEquals("models.ms_adaptor", typo.key());
        assertTrue(typo.message().startsWith("no installed component reads a model 'ms_adaptor'; did you mean "
                + "ms_adapter?"), typo.message());
        ProfileProblem env = only(problems(resolver().environment(Map.of("MONTAGE_MODELS_IMAGE_ENCODR", "enc")),
                file("plain.yaml", "models:\n  base: model\n")));
        assertEquals("models.image_encodr", env.key());
    }

    @Test
    void modelPathsWithoutABaseOrRequiredButAbsent() throws IOException {
        FakeModels.weights(dir.resolve("enc"), "model.safetensors");
        String partial = file("partial.yaml", "models: {image_encoder: enc}\n");
        assertEquals(new ProfileProblem(partial + ":1", "models.base", "not set while other model paths are; "
                + "expected a diffusers pipeline folder (model_index.json, tokenizer/, unet/, scheduler/)"),
                only(problems(resolver(), partial)));
        assertEquals("models.base", only(problems(resolver().requireModels())).key());
        // without subjects, neither the image encoder nor the adapter is needed
        Path model = FakeModels.model(dir.resolve("plain"));
        Files.delete(model.resolve("ms_adapter.bin"));
        resolver().withoutSubjects().set("models.base", model, "test").resolve(List.of());
    }
}

package dev.montage.runtime.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.spi.ComponentKind;
import dev.montage.runtime.registry.ComponentRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Layering, overrides and path handling of profiles. */
class ProfileResolverTest {
    @TempDir
    Path dir;

    private final ComponentRegistry registry = FakeModels.registry();

    private ProfileResolver resolver() {
        return new ProfileResolver(ProfileCatalog.classpath(getClass().getClassLoader()), registry);
    }

    private String file(String name, String text) throws IOException {
        Path f = dir.resolve(name);
        Files.createDirectories(f.getParent());
        Files.writeString(f, text);
        return f.toString();
    }

    @Test
    void withoutProfilesEveryValueIsTheBuiltInDefault() {
        ResolvedProfile r = resolver().resolve(List.of());
        Profile p = r.profile();
        assertEquals(new EngineSettings("auto", "float32", 0, 0), p.engine());
        assertTrue(p.models().isEmpty());
        assertEquals(Optional.empty(), p.components().recipe(), "the only recipe installed");
        assertEquals(Optional.empty(), p.components().unet(), "the recipe's");
        assertEquals(new AttentionSettings(Optional.empty(), Optional.empty(), Map.of()), p.components().attention());
        assertEquals(1024, p.defaults().width());
        assertEquals(7.5, p.defaults().guidance());
        assertEquals("euler", p.defaults().scheduler());
        assertEquals(Map.of(), p.options().byKind());
        assertEquals(ProfileResolver.DEFAULTS_SOURCE, r.origin("engine.device"));
    }

    @Test
    void laterProfilesOverrideEarlierOnesKeyByKey() throws IOException {
        String base = file("base.yaml", """
                engine:
                  device: cpu
                  threads: 4
                defaults:
                  steps: 20
                options:
                  scheduler: {timestep_spacing: trailing}
                components:
                  attention:
                    layers:
                      "down_blocks\\\\..*attn2": text-only
                """);
        String cuda = file("cuda.yaml", """
                engine:
                  device: cuda
                  dtype: float16
                options:
                  scheduler:
                    steps_offset: 0
                  decoder: {upcast: always}
                components:
                  attention:
                    layers:
                      "up_blocks\\\\..*": default
                """);
        ResolvedProfile r = resolver().resolve(List.of(base, cuda));
        Profile p = r.profile();
        // sections merge deeply: the later device and dtype, the earlier threads and steps
        assertEquals(new EngineSettings("cuda", "float16", 4, 0), p.engine());
        assertEquals(20, p.defaults().steps());
        assertEquals(Map.of("timestep_spacing", "trailing", "steps_offset", "0"), p.options().scheduler());
        assertEquals(Map.of(ComponentKind.SCHEDULER, p.options().scheduler(), ComponentKind.LATENT_DECODER,
                Map.of("upcast", "always")), p.options().byKind());
        // the later profile's layer patterns are tried first
        assertEquals(List.of("up_blocks\\..*", "down_blocks\\..*attn2"),
                List.copyOf(p.components().attention().layers().keySet()));
        assertEquals(cuda + ":2", r.origin("engine.device"));
        assertEquals(base + ":3", r.origin("engine.threads"));
        assertEquals(ProfileResolver.DEFAULTS_SOURCE, r.origin("engine.interop_threads"));
        assertEquals(cuda + ":6", r.origin("options.scheduler.steps_offset"));
    }

    @Test
    void nullClearsAnOptionalValueAndRestoresADefault() throws IOException {
        Path model = FakeModels.model(dir.resolve("model"));
        String models = file("models.yaml", "models:\n  base: " + model + "\n  variant: fp16\ndefaults:\n  steps: 9\n");
        String clear = file("clear.yaml", "models:\n  variant: null\ndefaults:\n  steps: ~\n");
        Profile p = resolver().resolve(List.of(models, clear)).profile();
        assertEquals(Optional.of(model), p.models().base());
        assertEquals(Optional.empty(), p.models().variant());
        assertEquals(30, p.defaults().steps());
    }

    @Test
    void relativePathsAreTakenFromTheProfileFilesFolder() throws IOException {
        FakeModels.model(dir.resolve("weights/sdxl"));
        FakeModels.weights(dir.resolve("weights/canny"), "diffusion_pytorch_model.safetensors");
        String profile = file("profiles/mine.yaml", """
                models:
                  base: ../weights/sdxl
                  controlnets:
                    canny: ../weights/canny
                """);
        Profile p = resolver().resolve(List.of(profile)).profile();
        assertEquals(Optional.of(dir.resolve("weights/sdxl")), p.models().base());
        assertEquals(Map.of("canny", dir.resolve("weights/canny")), p.models().controlnets());
    }

    @Test
    void jsonProfilesWorkLikeYaml() throws IOException {
        String json = file("fast.json", "{\"defaults\": {\"steps\": 8, \"scheduler\": \"ddim\"}}");
        Profile p = resolver().resolve(List.of(json)).profile();
        assertEquals(8, p.defaults().steps());
        assertEquals("ddim", p.defaults().scheduler());
    }

    @Test
    void environmentOverridesProfilesAndSettingsOverrideTheEnvironment() throws IOException {
        FakeModels.weights(dir.resolve("canny"), "diffusion_pytorch_model.safetensors");
        Path model = FakeModels.model(dir.resolve("model"));
        String profile = file("p.yaml", "engine: {device: cpu, dtype: bfloat16}\ndefaults: {steps: 12, width: 512}\n");
        ResolvedProfile r = resolver()
                .environment(Map.of("MONTAGE_ENGINE_DEVICE", "cuda:1", "MONTAGE_DEFAULTS_STEPS", "40",
                        "MONTAGE_MODELS_BASE", model.toString(), "MONTAGE_MODELS_CONTROLNETS_CANNY",
                        dir.resolve("canny").toString(), "MONTAGE_OPTIONS_SCHEDULER_TIMESTEP_SPACING", "trailing",
                        "MONTAGE_DEFAULTS_WIDTH", "", "MONTAGE_HOME", "/elsewhere", "PATH", "/bin"))
                .set("defaults.steps", 50, "command line --steps")
                .set("engine.dtype", "float16", "command line --dtype")
                .resolve(List.of(profile));
        Profile p = r.profile();
        assertEquals(new EngineSettings("cuda:1", "float16", 0, 0), p.engine());
        assertEquals(50, p.defaults().steps());
        // an empty variable counts as unset
        assertEquals(512, p.defaults().width());
        assertEquals(Optional.of(model), p.models().base());
        assertEquals(Map.of("canny", dir.resolve("canny")), p.models().controlnets());
        assertEquals(Map.of("timestep_spacing", "trailing"), p.options().scheduler());
        assertEquals("environment variable MONTAGE_ENGINE_DEVICE", r.origin("engine.device"));
        assertEquals("command line --steps", r.origin("defaults.steps"));
        assertEquals("MONTAGE_ENGINE_INTEROP_THREADS", ProfileResolver.environmentVariable("engine.interop_threads"));
    }

    @Test
    void componentOptionsAreCheckedAgainstWhatTheSlotsComponentsDeclare() throws IOException {
        String profile = file("options.yaml", """
                options:
                  scheduler: {timestep_spacng: trailing, steps_offset: -1}
                  decoder: {upcast: half}
                  attention: {text_tokens: 70}
                  unet: {tiling: true}
                """);
        ProfileException e = assertThrows(ProfileException.class, () -> resolver()
                .set("options.decoder.slicing", "yes", "command line --set").resolve(List.of(profile)));
        assertEquals(List.of(
                new ProfileProblem(profile + ":4", "options.attention.text_tokens", "unknown option (no options are "
                        + "declared by attention processor 'ms-diffusion' or attention processor 'default')"),
                new ProfileProblem(profile + ":5", "options.unet.tiling", "unknown option (no options are declared "
                        + "by denoising model 'sdxl-unet')"),
                new ProfileProblem(profile + ":2", "options.scheduler.steps_offset",
                        "expected an integer in 0..1000, got '-1'"),
                new ProfileProblem(profile + ":2", "options.scheduler.timestep_spacng", "unknown option; did you mean "
                        + "timestep_spacing? (expected an option of scheduler 'ddim' or scheduler 'euler': "
                        + "timestep_spacing, steps_offset)"),
                new ProfileProblem("command line --set", "options.decoder.slicing", "expected true or false, got "
                        + "'yes'"),
                new ProfileProblem(profile + ":3", "options.decoder.upcast", "expected one of auto, always, never, "
                        + "got 'half'")), e.problems());
    }

    @Test
    void settingsTakeRelativePathsFromTheWorkingFolder() {
        ProfileException e = assertThrows(ProfileException.class, () -> resolver()
                .set("models.base", "no-such-model-folder", "command line --model").resolve(List.of()));
        assertEquals(List.of(new ProfileProblem("command line --model", "models.base",
                Path.of("no-such-model-folder").toAbsolutePath() + " does not exist; expected a diffusers pipeline "
                        + "folder (model_index.json, tokenizer/, image_encoder/, unet/, scheduler/)")), e.problems());
    }

    @Test
    void theDescriptionIsAProfileThatResolvesToTheSameValues() throws IOException {
        Path model = FakeModels.model(dir.resolve("my model"));
        String profile = file("p.yaml", """
                engine: {device: "cuda:0", threads: 2}
                models: {base: "%s", variant: fp16}
                components:
                  attention:
                    layers: {"mid_block.*": text-only}
                defaults: {negative_prompt: "no: really", scale: 0.25, scheduler: ddim}
                options:
                  decoder: {upcast: "always", slicing: true}
                """.formatted(model));
        ResolvedProfile r = resolver().resolve(List.of(profile));
        String text = r.describe();
        assertTrue(text.contains("device: cuda:0"), text);
        assertTrue(text.contains(profile + ":1"), text);
        assertTrue(text.contains("conditioner: null"), text);
        String again = file("again.yaml", text);
        assertEquals(r.profile(), resolver().resolve(List.of(again)).profile());
    }

    @Test
    void aSchedulerAddedAsInstanceIsAValidDefault() {
        ProfileResolver resolver = resolver().set(Profile.keyOf(ComponentKind.SCHEDULER), "mine", "test");
        assertThrows(ProfileException.class, () -> resolver.resolve(List.of()));
        assertEquals("mine", resolver.extraId(ComponentKind.SCHEDULER, "mine").resolve(List.of()).profile()
                .defaults().scheduler());
    }

    @Test
    void shippedNamesComeFromFoldersBeforeTheClassPath() throws IOException {
        Files.writeString(dir.resolve("fast.yaml"), "defaults: {steps: 4}\n");
        ProfileCatalog catalog = ProfileCatalog.classpath(getClass().getClassLoader()).withFolder(dir);
        // the runtime's own class path lists tiny
        assertEquals(List.of("fast", "tiny"), catalog.names());
        ResolvedProfile r = new ProfileResolver(catalog, registry).resolve(List.of("fast"));
        assertEquals(4, r.profile().defaults().steps());
        assertEquals(dir.resolve("fast.yaml") + ":1", r.origin("defaults.steps"));
    }
}

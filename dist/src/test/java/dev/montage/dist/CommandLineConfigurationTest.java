package dev.montage.dist;

import static dev.montage.dist.CommandRun.montage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.TensorDType;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commands that read a configuration ({@code generate}, {@code profile check}) and {@code make-random-model}, run
 * as a user runs them: every bad configuration prints a message naming the file, the key and what was expected, and
 * exits non-zero.
 */
class CommandLineConfigurationTest {
    @TempDir
    static Path dir;
    private static Path model;

    /** What one run printed and returned. */
    @BeforeAll
    static void writeModel() throws IOException {
        model = dir.resolve("model");
        RandomModel.write(model, "tiny", TensorDType.F32, 5,
                ComponentRegistry.fromClasspath(CommandLineConfigurationTest.class.getClassLoader()));
    }

    private static String profile(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text).toString();
    }

    /** Checks the profile and expects exit code 2 with exactly this problem line. */
    private static void rejected(String problem, String... args) {
        CommandRun run = montage(args);
        assertEquals(2, run.code(), run::toString);
        assertTrue(run.err().startsWith("montage: profile "), run.err());
        assertTrue(run.err().contains("\n  " + problem + "\n"), run.err());
        assertEquals("", run.out());
    }

    @Test
    void checkPrintsTheResolvedProfileWithItsSources() {
        CommandRun run = montage(Map.of("MONTAGE_ENGINE_THREADS", "3"), "profile", "check", "--profile", "tiny",
                "--model", model.toString(), "--set", "defaults.steps=7");
        assertEquals(0, run.code(), run::toString);
        assertTrue(run.out().startsWith("# profile: tiny\n"), run.out());
        assertTrue(run.out().contains("  device: cpu  "), run.out());
        assertTrue(run.out().contains("# classpath:dev/montage/profiles/tiny.yaml:5"), run.out());
        assertTrue(run.out().contains("  threads: 3 "), run.out());
        assertTrue(run.out().contains("# environment variable MONTAGE_ENGINE_THREADS"), run.out());
        assertTrue(run.out().contains("  base: " + model), run.out());
        assertTrue(run.out().contains("# command line --model"), run.out());
        assertTrue(run.out().contains("  steps: 7 "), run.out());
        assertTrue(run.out().endsWith("profile OK\n"), run.out());
        CommandRun embedded = montage(Map.of("MONTAGE_PROFILE", "cpu"), "profile", "check");
        assertEquals(0, embedded.code(), embedded::toString);
        assertTrue(embedded.out().startsWith("# profile: cpu\n"), embedded.out());
        assertTrue(embedded.out().contains("# no model: montage generate uses the embedded default model"));
    }

    /**
     * A check writes nothing: a random model not in the cache yet is named, not written (a full-size one is GBs); the
     * first generation writes it, saying so first; then the check validates it.
     */
    @Test
    void aRandomModelIsWrittenByTheFirstGenerationNotByACheck() throws IOException {
        Path cache = dir.resolve("check-cache");
        Map<String, String> home = Map.of("MONTAGE_HOME", cache.toString());
        CommandRun unwritten = montage(home, "profile", "check", "--profile", "tiny");
        assertEquals(0, unwritten.code(), unwritten::toString);
        assertTrue(unwritten.out().contains("# models.random: tiny is not written yet; a check does not write it"),
                unwritten.out());
        assertTrue(unwritten.out().endsWith("profile OK\n"), unwritten.out());
        assertFalse(Files.exists(cache), "nothing is written");

        // the first command that uses it writes it, and says so before it starts
        CommandRun first = montage(home, "generate", "--profile", "tiny", "--steps", "1", "-p", "a dog", "--out",
                dir.resolve("first").toString());
        assertEquals(0, first.code(), first::toString);
        Path folder = RandomModel.of(ComponentRegistry.fromClasspath(getClass().getClassLoader()), Optional.empty())
                .cachedIfPresent(cache, "tiny", TensorDType.F32).orElseThrow();
        assertTrue(first.err().startsWith("montage: writing the model with RANDOM weights into " + folder
                + " (once: later runs read it from there)\n"), first.err());
        CommandRun second = montage(home, "generate", "--profile", "tiny", "--steps", "1", "-p", "a dog", "--out",
                dir.resolve("second").toString());
        assertEquals(0, second.code(), second::toString);
        assertFalse(second.err().contains("writing the model"), second.err());

        CommandRun written = montage(home, "profile", "check", "--profile", "tiny");
        assertEquals(0, written.code(), written::toString);
        assertFalse(written.out().contains("not written yet"), written.out());
        assertTrue(written.out().endsWith("profile OK\n"), written.out());
    }

    @Test
    void checkListsTheOptionsOfTheProfilesComponents() {
        CommandRun run = montage("profile", "check", "--profile", "tiny");
        assertEquals(0, run.code(), run::toString);
        assertTrue(run.out().contains("\n#   options.text_encoder, text encoder 'sdxl-clip':\n#     prompt_weighting "
                + "(enum none|a1111, default none): what brackets in a prompt do: "), run.out());
        assertTrue(run.out().contains("\n#   options.attention, attention processor 'ms-diffusion': none\n"),
                run.out());
        assertTrue(run.out().contains("\n#   options.scheduler, scheduler 'euler':\n#     num_train_timesteps "
                + "(integer 2..100000): "), run.out());
        assertTrue(run.out().contains("\n#   options.decoder, latent decoder 'sdxl-vae':\n#     upcast (enum "
                + "auto|always|never, default auto): "), run.out());
        assertTrue(run.out().endsWith("profile OK\n"), run.out());
    }

    @Test
    void anOptionTheComponentDoesNotDeclare() throws IOException {
        String p = profile("options.yaml", "options:\n  decoder: {upcats: always}\n");
        rejected(p + ":2: options.decoder.upcats: unknown option; did you mean upcast? (expected an option of latent "
                + "decoder 'sdxl-vae': upcast, slicing, tiling, tile_size)", "profile", "check", "--profile", p);
    }

    @Test
    void checkingThatTheComponentsFitNeedsNotTheProfilesDevice() {
        // this machine has no CUDA device: the components' sizes are checked on the CPU
        CommandRun run = montage("profile", "check", "--model", model.toString(), "--device", "cuda");
        assertEquals(0, run.code(), run::toString);
        assertTrue(run.out().contains("  device: cuda  "), run.out());
        assertTrue(run.out().endsWith("profile OK\n"), run.out());
    }

    @Test
    void unknownKey() throws IOException {
        String p = profile("unknown.yaml", "defaults:\n  stpes: 4\n");
        rejected(p + ":2: defaults.stpes: unknown key; did you mean defaults.steps? (expected the keys of defaults: "
                + "width, height, steps, guidance, scale, scheduler, negative_prompt, count, guidance_rescale)",
                "profile", "check", "--profile", p);
    }

    @Test
    void wrongType() throws IOException {
        String p = profile("type.yaml", "server:\n  port: http\n");
        rejected(p + ":2: server.port: expected an integer, got the text 'http'", "profile", "check", "--profile", p);
    }

    @Test
    void missingWeightFolder() throws IOException {
        String p = profile("missing.yaml", "models:\n  base: " + model + "\n  image_encoder: " + dir.resolve("clip-g")
                + "\n");
        rejected(p + ":3: models.image_encoder: " + dir.resolve("clip-g") + " does not exist; expected a "
                + "transformers CLIPVisionModelWithProjection folder (CLIP-ViT-bigG-14)", "profile", "check", "--profile",
                p);
    }

    @Test
    void missingWeightsFile() throws IOException {
        Path broken = dir.resolve("broken");
        RandomModel.write(broken, "tiny", TensorDType.F32, 5,
                ComponentRegistry.fromClasspath(getClass().getClassLoader()));
        Files.delete(broken.resolve("vae/diffusion_pytorch_model.safetensors"));
        CommandRun run = montage("profile", "check", "--model", broken.toString());
        assertEquals(2, run.code(), run::toString);
        assertTrue(run.err().contains("\n  command line --model: models.base: no weights in "
                + broken.resolve("vae") + ": looked for diffusion_pytorch_model.safetensors"), run.err());
    }

    @Test
    void componentIdNoPluginProvides() throws IOException {
        String p = profile("ids.yaml", "components:\n  decoder: taesd\n");
        rejected(p + ":2: components.decoder: no installed plugin provides the latent decoder 'taesd' (expected one "
                + "of sdxl-vae)", "profile", "check", "--profile", p);
    }

    @Test
    void badDeviceAndDtype() throws IOException {
        String p = profile("engine.yaml", "engine:\n  device: tpu\n");
        rejected(p + ":2: engine.device: device 'tpu' is not supported, expected auto, cpu, cuda or cuda:N "
                + "(N = 0, 1, ...)", "profile", "check", "--profile", p);
        rejected("command line --dtype: engine.dtype: dtype 'int8' is not supported, expected auto, float32, float16 "
                + "or bfloat16", "profile", "check", "--dtype", "int8");
    }

    @Test
    void unknownProfileAndEnvironmentTypos() {
        rejected("tiyn: unknown profile 'tiyn'; did you mean tiny? (expected a profile file such as my-models.yaml, "
                + "or one of the shipped profiles cpu, cuda-fp16, ip-adapter, server, tiny)", "profile", "check", "--profile",
                "tiyn");
        CommandRun run = montage(Map.of("MONTAGE_DEFAULTS_STEP", "4"), "profile", "check");
        assertEquals(2, run.code());
        assertTrue(run.err().contains("environment variable MONTAGE_DEFAULTS_STEP: defaults.step: unknown key; did "
                + "you mean MONTAGE_DEFAULTS_STEPS?"), run.err());
    }

    @Test
    void generateRejectsABadConfigurationBeforeLoadingAnything() throws IOException {
        String p = profile("gen.yaml", "defaults:\n  scheduler: eulerr\n");
        CommandRun run = montage("generate", "--profile", p, "-p", "a dog", "--out", dir.resolve("never").toString());
        assertEquals(2, run.code(), run::toString);
        assertTrue(run.err().contains(p + ":2: defaults.scheduler: no installed plugin provides the scheduler "
                + "'eulerr'; did you mean euler?"), run.err());
        assertFalse(Files.exists(dir.resolve("never")));
        CommandRun flag = montage("generate", "--model", model.toString(), "--width", "100", "-p", "a dog");
        assertEquals(2, flag.code(), flag::toString);
        assertTrue(flag.err().contains("command line --width: defaults.width: must be a positive multiple of 8, got "
                + "100"), flag.err());
    }

    @Test
    void generateTakesTheProfilesDefaultsAndFlagsOverrideThem() throws IOException {
        Path out = dir.resolve("out");
        CommandRun run = montage("generate", "--profile", "tiny", "--model", model.toString(), "--steps", "2", "-p", "a dog",
                "--seed", "0", "--out", out.toString());
        assertEquals(0, run.code(), run::toString);
        BufferedImage image = ImageIO.read(out.resolve("00000-0.png").toFile());
        assertEquals(256, image.getWidth());
        CommandRun smaller = montage("generate", "--profile", "tiny", "--model", model.toString(), "--steps", "2",
                "--width", "64", "--height", "32", "--seed", "1", "-p", "a dog", "--out", out.toString());
        assertEquals(0, smaller.code(), smaller::toString);
        BufferedImage flagged = ImageIO.read(out.resolve("00001-1.png").toFile());
        assertEquals(64, flagged.getWidth());
        assertEquals(32, flagged.getHeight());
    }

    @Test
    void makeRandomModelWritesAModelAProfileCanUse() throws IOException {
        Path written = dir.resolve("random-f16");
        CommandRun run = montage("make-random-model", "--config", "tiny", "--dtype", "f16", "--out", written.toString());
        assertEquals(0, run.code(), run::toString);
        assertEquals(written + "\n", run.out());
        assertTrue(run.err().contains("RANDOM f16 weights"), run.err());
        assertTrue(Files.isRegularFile(written.resolve(RandomModel.MARKER)));
        try (SafetensorsReader unet = SafetensorsReader.open(written.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            assertEquals(TensorDType.F16, unet.tensor(unet.names().iterator().next()).dtype());
        }
        CommandRun check = montage("profile", "check", "--model", written.toString(), "--set", "models.variant=fp16");
        assertEquals(0, check.code(), check::toString);
        // writing again over a random model is fine; over anything else it is refused
        assertEquals(0, montage("make-random-model", "--out", written.toString()).code());
        Files.createDirectories(dir.resolve("notes"));
        Files.writeString(dir.resolve("notes/keep.txt"), "mine");
        CommandRun refused = montage("make-random-model", "--out", dir.resolve("notes").toString());
        assertEquals(2, refused.code());
        assertEquals("montage: --out " + dir.resolve("notes") + " is not empty and holds no random model; expected a "
                + "new or empty folder (so that no real model is overwritten)\n", refused.err());
        CommandRun badDtype = montage("make-random-model", "--dtype", "f8", "--out", dir.resolve("x").toString());
        assertEquals("montage: --dtype 'f8' is not one of f32, f16, bf16\n", badDtype.err());
        CommandRun badConfig = montage("make-random-model", "--config", "huge", "--out", dir.resolve("x").toString());
        assertEquals("montage: --config 'huge' is not one of tiny, sdxl\n", badConfig.err());
        assertEquals(2, badConfig.code());
    }
}

package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.pytorch.jni.LibUtils;
import dev.montage.api.Box;
import dev.montage.api.GenerationRequest;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TensorDType;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The built distribution ({@code target/montage}) run as a user runs it: {@code bin/montage} in its own process,
 * the built-in plugins loaded from {@code plugins/} through Felix, on the embedded default model written into a fresh
 * {@code MONTAGE_HOME} or on the golden tiny model named by a profile file.
 */
class DistributionIT {
    private static final String SUBJECT = "image=" + PluginSourcesIT.DISTRIBUTION.resolve("examples/ball.png")
            + ",phrase=ball,box=0.1,0.1,0.6,0.6";

    @TempDir
    Path tmp;

    private record Run(int code, String out, String err) {
    }

    private Run montage(String... args) throws IOException, InterruptedException {
        return montage(Map.of(), args);
    }

    /** @param env variables set for the process on top of this one's, without GLIBC_TUNABLES unless given */
    private Run montage(Map<String, String> env, String... args) throws IOException, InterruptedException {
        return montage(PluginSourcesIT.DISTRIBUTION, env, args);
    }

    /** As {@link #montage(Map, String...)} with the launcher of another distribution folder. */
    private Run montage(Path distribution, Map<String, String> env, String... args)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(distribution.resolve("bin/montage").toString()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("MONTAGE_HOME", tmp.resolve("home").toString());
        pb.environment().put("JAVA_OPTS", "-Xmx2g");
        pb.environment().remove("GLIBC_TUNABLES");
        pb.environment().putAll(env);
        Process process = pb.start();
        if (!process.waitFor(5, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError("montage " + String.join(" ", args) + " ran over 5 minutes");
        }
        Run run = new Run(process.exitValue(), Files.readString(out), Files.readString(err));
        System.out.printf("montage %s -> %d%n%s%s", String.join(" ", args), run.code(), run.out(), run.err());
        return run;
    }

    private Path samplePlugins(String sample) throws IOException {
        Path extra = Files.createDirectories(tmp.resolve("extra"));
        Files.copy(PluginSourcesIT.SAMPLES.resolve(sample), extra.resolve(sample));
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().putValue("Manifest-Version", "1.0");
        try (OutputStream file = Files.newOutputStream(extra.resolve("broken.jar"));
                JarOutputStream jar = new JarOutputStream(file, manifest)) {
            jar.flush();
        }
        return extra;
    }

    private static int[] pixels(BufferedImage image) {
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    /** Runs the request in this JVM, wired from the classpath, and compares the pixels of the process's PNG. */
    private void assertClasspathPixels(Path model, GenerationRequest request, Path png) throws IOException {
        try (MontagePipeline pipeline = TestEngine.pipeline(ComponentRegistry.fromClasspath(
                getClass().getClassLoader()), model).build()) {
            BufferedImage expected = pipeline.generate(request, ProgressListener.NONE).images().get(0);
            assertArrayEquals(pixels(expected), pixels(ImageIO.read(png.toFile())));
        }
    }

    @Test
    void generateOnTheEmbeddedDefaultGivesTheClasspathsPixels() throws Exception {
        Path images = tmp.resolve("images");
        Run run = montage("generate", "-p", "a ball on the beach", "--width", "64", "--height", "64", "--steps", "2",
                "--seed", "0", "-s", SUBJECT, "-o", images.toString(), "--verbose");
        assertEquals(0, run.code(), run.err());
        assertTrue(run.err().contains("RANDOM weights"), run.err());
        // standard error is a file: a line per stage, no frames, and none of the native libraries' noise, which
        // --verbose lists instead (what there is of it depends on the machine: a CUDA driver, NNPACK's support)
        assertFalse(run.err().contains("\r"), run.err());
        assertTrue(run.err().matches("(?s).*\nmontage: denoising 2/2 steps [0-9.]+ s \\([0-9.]+ s/step\\)\n.*"),
                run.err());
        String[] lines = run.err().split("\n");
        int report = Arrays.asList(lines).indexOf("montage: left out of native libraries' output:");
        assertTrue(report >= 0 || run.err().endsWith("montage: nothing was left out of native libraries' output\n"),
                run.err());
        for (int i = 0; i < (report < 0 ? lines.length : report); i++) {
            assertFalse(lines[i].contains("NNPACK") || lines[i].contains("CudaUtils"), lines[i]);
        }
        Path png = Path.of(run.out().trim());
        assertEquals(images.resolve("00000-0.png"), png);

        // the same request on the model the process wrote
        Path written;
        try (Stream<Path> models = Files.list(tmp.resolve("home/models"))) {
            written = models.filter(m -> m.getFileName().toString().contains("-" + EmbeddedModel.NAME + "-"))
                    .findFirst().orElseThrow();
        }
        assertClasspathPixels(written,
                GenerationRequest.builder("a ball on the beach").size(64, 64).steps(2)
                        .subject(SubjectSpec.parse(SUBJECT)).build(), png);
    }

    @Test
    void generateWiredFromAProfileThroughFelixGivesTheClasspathsPixelsOnTheGoldenModel() throws Exception {
        String name = "single_subject_euler";
        Path caseDir = Golden.caseDir(name);
        Path profile = Files.writeString(tmp.resolve("golden.yaml"), "engine:\n  device: cpu\n  dtype: float32\n"
                + "models:\n  base: " + Golden.model() + "\n");
        GenerationRequest request;
        try (GoldenTensors golden = GoldenTensors.open(name)) {
            request = PipelineGoldenTest.request(name, "euler", golden);
        }
        List<String> args = new ArrayList<>(List.of("generate", "--profile", profile.toString(),
                "-p", request.prompt(), "--negative-prompt", request.negativePrompt(),
                "--width", String.valueOf(request.width()), "--height", String.valueOf(request.height()),
                "--steps", String.valueOf(request.steps()), "--guidance", String.valueOf(request.guidanceScale()),
                "--scale", String.valueOf(request.imageScale()), "--scheduler", "euler",
                "--init-latents", caseDir.resolve(name + ".safetensors") + ":init_latents",
                "-o", tmp.resolve("images").toString()));
        for (Subject s : request.subjects()) {
            Box b = s.box();
            args.addAll(List.of("-s", "image=" + caseDir.resolve(s.imageName()) + ",phrase=" + s.phrase() + ",box="
                    + b.x0() + "," + b.y0() + "," + b.x1() + "," + b.y1()));
        }
        Run run = montage(args.toArray(String[]::new));
        assertEquals(0, run.code(), run.err());
        assertFalse(run.err().contains("RANDOM weights"), "the profile's model, not the embedded one: " + run.err());

        // every component of the run comes from the distribution's bundles, none from the host's classpath
        Run plugins = montage("plugins");
        assertEquals(0, plugins.code(), plugins.err());
        assertFalse(plugins.out().contains("classpath"), plugins.out());
        for (String component : List.of("text encoder +sdxl-clip", "image encoder +clip-vision",
                "subject resampler +ms-diffusion", "denoising model +sdxl-unet", "latent decoder +sdxl-vae",
                "scheduler +euler", "attention processor +ms-diffusion", "attention processor +default",
                "subject resampler +ip-adapter", "attention processor +ip-adapter")) {
            assertTrue(plugins.out().matches("(?s).*\n" + component
                    + " +osgi:dev\\.montage\\.[a-z-]+ +\\S+ +active\n.*"),
                    component + " from a bundle: " + plugins.out());
        }
        assertClasspathPixels(Golden.model(), request, Path.of(run.out().trim()));
    }

    @Test
    void pluginsListsTheBuiltInBundlesAndAnotherFolder() throws Exception {
        Run builtIn = montage("plugins");
        assertEquals(0, builtIn.code(), builtIn.err());
        assertTrue(builtIn.out().matches("(?s)KIND +ID +SOURCE +VERSION +STATE\n.*"), builtIn.out());
        assertTrue(builtIn.out().matches("(?s).*\ndenoising model +sdxl-unet +osgi:dev\\.montage\\.sdxl-unet +\\d\\S* +"
                + "active\n.*"), builtIn.out());
        assertTrue(builtIn.out().matches("(?s).*\n  osgi:dev\\.montage\\.sdxl-unet \\d\\S*: SDXL UNet .*"),
                builtIn.out());
        assertFalse(builtIn.out().contains("failed plugins"), builtIn.out());

        Run extra = montage("plugins", "--plugins", samplePlugins(PluginSourcesIT.SAMPLE_PF4J).toString());
        assertEquals(1, extra.code(), "a broken plugin makes the listing fail: " + extra.err());
        assertTrue(extra.out().matches(
                "(?s).*\nscheduler +sample-euler-exponential +pf4j:sample-luminance +\\S+ +active\n.*"), extra.out());
        assertTrue(extra.out().matches(
                "(?s).*\ncondition preprocessor +luminance +pf4j:sample-luminance +\\S+ +active\n.*"), extra.out());
        assertTrue(extra.out().matches("(?s).*\nfailed plugins:\n  broken\\.jar \\(.*broken\\.jar\\): neither an OSGi "
                + "bundle.*"), extra.out());
    }

    @Test
    void profileCheckAndPreprocessFindTheBuiltInBundles() throws Exception {
        Path model = tmp.resolve("model");
        RandomModel.write(model, "tiny", TensorDType.F32, 7, ComponentRegistry.fromClasspath(getClass()
                .getClassLoader()));
        Run check = montage("profile", "check", "--model", model.toString());
        assertEquals(0, check.code(), check.err());
        assertTrue(check.out().endsWith("profile OK\n"), check.out());

        Path edges = tmp.resolve("edges.png");
        Run canny = montage("preprocess", "canny", "--image", PluginSourcesIT.DISTRIBUTION.resolve("examples/ball.png")
                .toString(), "-o", edges.toString());
        assertEquals(0, canny.code(), canny.err());
        assertEquals(edges.toString(), canny.out().trim());
        assertTrue(ImageIO.read(edges.toFile()).getWidth() > 0);

        // a third party's preprocessor from another plugins folder
        Path luminance = tmp.resolve("luminance.png");
        Run sample = montage("preprocess", "luminance", "--plugins", samplePlugins(PluginSourcesIT.SAMPLE_BUNDLE)
                .toString(), "--image", PluginSourcesIT.DISTRIBUTION.resolve("examples/ball.png").toString(), "-o",
                luminance.toString());
        assertEquals(0, sample.code(), sample.err());
        assertTrue(sample.err().contains("montage: plugin broken.jar"), "the broken plugin is named: " + sample.err());
        assertTrue(Files.isRegularFile(luminance));
    }

    @Test
    void theLauncherAsksGlibcForOneArenaAndHugePagesUnlessTheTunablesSayOtherwise() throws Exception {
        String[] bench = {"bench", "--config", "tiny", "--stages", "load", "--runs", "1", "--warmup", "0"};
        Run launched = montage(bench);
        assertEquals(0, launched.code(), launched.err());
        assumeTrue(!launched.out().contains("not glibc malloc"), "not glibc");
        assertTrue(launched.out().matches("(?s).*\nmachine: [^\n]*; glibc malloc, freed blocks kept, one arena, "
                + "huge pages requested \\(kernel: .*"), launched.out());

        Run optedOut = montage(Map.of("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0"), bench);
        assertEquals(0, optedOut.code(), optedOut.err());
        assertTrue(optedOut.out().contains(", one arena, huge pages not requested"), optedOut.out());

        Run arenas = montage(Map.of("GLIBC_TUNABLES", "glibc.malloc.arena_max=8"), bench);
        assertEquals(0, arenas.code(), arenas.err());
        assertTrue(arenas.out().contains(", an arena per thread (GLIBC_TUNABLES=glibc.malloc.arena_max=1 asks), "
                + "huge pages requested"), arenas.out());
    }

    /**
     * The distribution as {@code -Pcuda} builds it, without PyTorch's CPU native library: offline it refuses to start
     * and says where a native library may come from; with {@code PYTORCH_LIBRARY_PATH} naming an installed libtorch
     * (the CPU build the tests' engine runs on, with its JNI beside it) it generates on that one.
     */
    @Test
    void withoutTheCpuNativeLibraryTheLauncherTakesTheInstalledLibtorchThatTheEnvironmentNames() throws Exception {
        Path bare = Files.createDirectories(tmp.resolve("montage-cuda/lib"));
        for (String folder : List.of("bin", "plugins", "profiles")) {
            Files.createSymbolicLink(bare.resolveSibling(folder),
                    PluginSourcesIT.DISTRIBUTION.resolve(folder).toAbsolutePath());
        }
        try (Stream<Path> jars = Files.list(PluginSourcesIT.DISTRIBUTION.resolve("lib"))) {
            for (Path jar : jars.filter(j -> !j.getFileName().toString().startsWith("pytorch-native-")).toList()) {
                Files.createSymbolicLink(bare.resolve(jar.getFileName()), jar.toAbsolutePath());
            }
        }
        String[] generate = {"generate", "-p", "a ball", "--width", "64", "--height", "64", "--steps", "1", "-o",
            tmp.resolve("images").toString()};

        Run refused = montage(bare.getParent(), Map.of(), generate);
        assertEquals(2, refused.code(), refused.err());
        assertTrue(refused.err().contains("montage: PyTorch's native library could not be loaded (")
                && refused.err().contains("no native library is on the class path"), refused.err());

        TestEngine.engine();
        Run installed = montage(bare.getParent(), Map.of("PYTORCH_LIBRARY_PATH", LibUtils.getLibtorchPath(),
                "PYTORCH_VERSION", LibUtils.getVersion(), "PYTORCH_FLAVOR", "cpu"), generate);
        assertEquals(0, installed.code(), installed.err());
        assertTrue(installed.err().contains("PyTorch " + LibUtils.getVersion() + " on cpu"), installed.err());
    }

    /**
     * The sample third-party plugin in use: its scheduler runs the generation and its luminance condition prepares
     * the control image fed to a (random) ControlNet, once as an OSGi bundle and once as a PF4J zip.
     */
    @ParameterizedTest
    @ValueSource(strings = {PluginSourcesIT.SAMPLE_BUNDLE, PluginSourcesIT.SAMPLE_PF4J})
    void generateUsesTheSamplePluginsSchedulerAndConditionAndNamesTheBrokenPlugin(String sample) throws Exception {
        Path model = tmp.resolve("model");
        assertEquals(0, montage("make-random-model", "--config", "tiny", "--out", model.toString()).code());
        Path controls = tmp.resolve("controls");
        Run run = montage("generate", "--model", model.toString(), "-p", "a ball", "--width", "64", "--height", "64",
                "--steps", "2", "--scheduler", "sample-euler-exponential", "-o", tmp.resolve("images").toString(),
                "--control", "type=luminance,image=" + PluginSourcesIT.DISTRIBUTION.resolve("examples/ball.png")
                        + ",model=" + model.resolve("controlnet"),
                "--save-control-images", controls.toString(), "--plugins", samplePlugins(sample).toString());
        assertEquals(0, run.code(), run.err());
        assertTrue(run.err().contains("montage: plugin broken.jar ("), run.err());
        try (var png = Files.newInputStream(Path.of(run.out().trim()))) {
            Map<String, String> parameters = PngRecords.pipeline(png);
            assertEquals("sample-euler-exponential", parameters.get("scheduler"));
            assertEquals(model.resolve("controlnet").toString(), parameters.get("controlnet.luminance"));
        }
        BufferedImage luminance = ImageIO.read(controls.resolve("control-00-luminance.png").toFile());
        int[] rgb = pixels(luminance);
        assertTrue(Arrays.stream(rgb).allMatch(p -> (p & 0xFF) == ((p >> 8) & 0xFF) && (p & 0xFF) == ((p >> 16) & 0xFF)),
                "the luminance condition gives gray pixels");
        assertTrue(Arrays.stream(rgb).map(p -> p & 0xFF).distinct().count() > 8, "the ball's shading survives");
    }
}

package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.Box;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Options;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.registry.InstalledPlugins;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TensorDType;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Plugins through the real sources, after packaging (failsafe, it needs the built bundles): the sample third-party
 * plugin as an OSGi bundle and as a PF4J zip, listed with its source and used by a generation; the distribution's
 * built-in bundles wired through Felix alone, giving the classpath's pixels; the IP-Adapter plugin as a bundle and as a
 * PF4J zip, giving the classpath's latents; one DJL engine shared by two bundles.
 */
class PluginSourcesIT {
    static final Path DISTRIBUTION = Path.of(System.getProperty("montage.distribution", "target/montage"));
    static final Path SAMPLES = Path.of(System.getProperty("montage.sample.plugins", "target/sample-plugins"));
    static final String SAMPLE_BUNDLE = "sample-condition-bundle.jar";
    static final String SAMPLE_PF4J = "sample-condition-pf4j.zip";
    static final String IP_ADAPTER_PF4J = "ip-adapter-pf4j.zip";
    private static final String SAMPLE_SCHEDULER = "sample-euler-exponential";
    private static final GenerationRequest REQUEST = GenerationRequest.builder("a dog on the beach").size(64, 64)
            .steps(3).seed(3).scheduler(SAMPLE_SCHEDULER).build();

    @TempDir
    static Path model;
    private static URLClassLoader sampleOnClasspath;
    private static float[] classpathLatents;

    @BeforeAll
    static void reference() throws IOException {
        ClassLoader tests = PluginSourcesIT.class.getClassLoader();
        RandomModel.write(model, "tiny", TensorDType.F32, 5, ComponentRegistry.fromClasspath(tests));
        // the sample jar on the classpath, as an IDE would have it: the reference the plugin sources must match
        sampleOnClasspath = new URLClassLoader(new URL[] {SAMPLES.resolve(SAMPLE_BUNDLE).toUri().toURL()}, tests);
        ComponentRegistry classpath = ComponentRegistry.fromClasspath(sampleOnClasspath);
        classpathLatents = latents(classpath, model, REQUEST);
        assertFalse(java.util.Arrays.equals(classpathLatents,
                latents(classpath, model, REQUEST.toBuilder().scheduler("euler").build())),
                "the sample scheduler is not Euler in disguise");
    }

    @AfterAll
    static void close() throws IOException {
        sampleOnClasspath.close();
    }

    static float[] latents(ComponentRegistry registry, Path model, GenerationRequest request) {
        try (MontagePipeline pipeline = TestEngine.pipeline(registry, model).build()) {
            Latents[] out = new Latents[1];
            GenerationResult result = pipeline.generate(request, ProgressListener.NONE, out);
            assertEquals(request.scheduler().orElseThrow(), result.parameters().get("scheduler"));
            return out[0].values();
        }
    }

    private static String source(ComponentRegistry registry, ComponentKind kind, String id) {
        return registry.entries().stream().filter(e -> e.kind() == kind && e.id().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " " + id + " in " + registry.ids(kind)))
                .source();
    }

    @ParameterizedTest
    @CsvSource({SAMPLE_BUNDLE + ", osgi:dev.montage.sample-condition", SAMPLE_PF4J + ", pf4j:sample-luminance"})
    void samplePluginIsListedAndRunsAGeneration(String file, String source, @TempDir Path plugins) throws IOException {
        Files.copy(SAMPLES.resolve(file), plugins.resolve(file));
        try (InstalledPlugins installed = InstalledPlugins.builder().classpath(getClass().getClassLoader())
                .folder(plugins).load()) {
            assertEquals(List.of(), installed.problems());
            ComponentRegistry registry = installed.registry();
            assertEquals(source, source(registry, ComponentKind.SCHEDULER, SAMPLE_SCHEDULER));
            assertEquals(source, source(registry, ComponentKind.CONDITION_PREPROCESSOR, "luminance"));
            assertEquals("classpath", source(registry, ComponentKind.SCHEDULER, "euler"));

            try (FolderComponentContext context = new FolderComponentContext(TestEngine.engine(),
                    ModelPaths.of(model), Map.of())) {
                ConditionPreprocessor luminance = registry.factory(ComponentKind.CONDITION_PREPROCESSOR,
                        "luminance", ConditionPreprocessor.class).create(context);
                BufferedImage red = new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB);
                red.setRGB(0, 0, 0xFF0000);
                assertEquals(0x4C4C4C, luminance.preprocess(red, Options.NONE, 2, 2).getRGB(0, 0) & 0xFFFFFF,
                        "luma 76 of pure red");
            }
            assertArrayEquals(classpathLatents, latents(registry, model, REQUEST), 0f,
                    "the plugin's scheduler gives the classpath's latents");
        }
    }

    @Test
    void distributionBundlesThroughFelixGiveTheClasspathsPixelsOnTheGoldenModel() throws IOException {
        String name = "single_subject_euler";
        try (GoldenTensors golden = GoldenTensors.open(name);
                InstalledPlugins installed = InstalledPlugins.builder().folder(DISTRIBUTION.resolve("plugins"))
                        .load()) {
            assertEquals(List.of(), installed.problems());
            ComponentRegistry osgi = installed.registry();
            osgi.entries().forEach(e -> assertTrue(e.source().startsWith("osgi:dev.montage."), e.source()));
            GenerationRequest request = PipelineGoldenTest.request(name, "euler", golden);
            float[] throughFelix = latents(osgi, Golden.model(), request);
            golden.assertClose("final_latents", throughFelix, 1e-3);
            assertArrayEquals(latents(ComponentRegistry.fromClasspath(getClass().getClassLoader()), Golden.model(),
                    request), throughFelix, 0f, "Felix-wired and classpath-wired pipelines agree exactly");
        }
    }

    /**
     * IP-Adapter, a second subject adapter, as the distribution's bundle through Felix and as a PF4J zip beside the
     * other bundles: the same latents as from the classpath, bit for bit.
     */
    @ParameterizedTest
    @CsvSource({"bundle, osgi:dev.montage.ip-adapter", "pf4j, pf4j:ip-adapter"})
    void theIpAdapterPluginGivesTheClasspathsLatents(String packaging, String source, @TempDir Path plugins)
            throws IOException {
        try (var bundles = Files.list(DISTRIBUTION.resolve("plugins"))) {
            for (Path bundle : bundles.toList()) {
                boolean ipAdapter = bundle.getFileName().toString().contains("ip-adapter");
                if (!ipAdapter || packaging.equals("bundle")) {
                    Files.copy(bundle, plugins.resolve(bundle.getFileName()));
                }
            }
        }
        if (packaging.equals("pf4j")) {
            Files.copy(SAMPLES.resolve(IP_ADAPTER_PF4J), plugins.resolve(IP_ADAPTER_PF4J));
        }
        try (InstalledPlugins installed = InstalledPlugins.builder().folder(plugins).load()) {
            assertEquals(List.of(), installed.problems());
            ComponentRegistry registry = installed.registry();
            assertEquals(source, source(registry, ComponentKind.SUBJECT_RESAMPLER, "ip-adapter"));
            assertEquals(source, source(registry, ComponentKind.ATTENTION_PROCESSOR, "ip-adapter"));
            GenerationRequest request = GenerationRequest.builder("a toy on a wooden table").size(64, 64).steps(3)
                    .seed(4).imageScale(0.7).subject(Subject.of(ImageIO.read(Golden.caseDir("ip_adapter_euler")
                            .resolve("subject_0.png").toFile()), "subject_0.png", null, Box.NONE)).build();
            assertArrayEquals(ipLatents(ComponentRegistry.fromClasspath(getClass().getClassLoader()), request),
                    ipLatents(registry, request), 0f, "plugin-wired and classpath-wired IP-Adapter pipelines agree");
        }
    }

    private static float[] ipLatents(ComponentRegistry registry, GenerationRequest request) {
        try (MontagePipeline pipeline = TestEngine.pipeline(registry, Golden.model())
                .setting("models.ip_adapter", Golden.dir().resolve("ip-adapter/ip-adapter_tiny.safetensors"))
                .setting("components.resampler", "ip-adapter")
                .setting("components.attention.cross", "ip-adapter").build()) {
            Latents[] out = new Latents[1];
            GenerationResult result = pipeline.generate(request, ProgressListener.NONE, out);
            assertEquals("ip-adapter", result.parameters().get("component.subject_resampler"));
            return out[0].values();
        }
    }

    @Test
    void twoBundlesShareTheHostsDjlEngine(@TempDir Path plugins) throws Exception {
        Files.copy(SAMPLES.resolve(SAMPLE_BUNDLE), plugins.resolve(SAMPLE_BUNDLE));
        try (InstalledPlugins installed = InstalledPlugins.builder().folder(DISTRIBUTION.resolve("plugins"))
                .folder(plugins).load();
                FolderComponentContext context = new FolderComponentContext(TestEngine.engine(),
                        ModelPaths.of(model), Map.of());
                NDManager scope = TestEngine.manager().newSubManager()) {
            ComponentRegistry registry = installed.registry();
            var sample = registry.factory(ComponentKind.SCHEDULER, SAMPLE_SCHEDULER, Scheduler.class);
            var euler = registry.factory(ComponentKind.SCHEDULER, "euler", Scheduler.class);
            ClassLoader a = sample.getClass().getClassLoader();
            ClassLoader b = euler.getClass().getClassLoader();
            assertNotSame(a, b, "two bundles");
            assertNotSame(getClass().getClassLoader(), a);
            for (ClassLoader bundle : List.of(a, b)) {
                assertSame(NDArray.class, bundle.loadClass(NDArray.class.getName()));
                assertSame(Engine.class, bundle.loadClass(Engine.class.getName()));
            }
            NDArray latents = scope.full(new Shape(1, 4, 2, 2), 1f);
            NDArray eps = scope.full(new Shape(1, 4, 2, 2), 0.1f);
            NDArray x = sample.create(context).start(2, scope).step(eps, 0, latents);
            NDArray y = euler.create(context).start(2, scope).step(eps, 0, latents);
            assertSame(Engine.getInstance(), x.getManager().getEngine());
            assertSame(Engine.getInstance(), y.getManager().getEngine());
            assertEquals(x.toFloatArray()[0] + y.toFloatArray()[0], x.add(y).toFloatArray()[0], 1e-6f);
        }
    }
}

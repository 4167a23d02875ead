package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.Box;
import dev.montage.api.ConfigurationException;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Subject;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.AttentionLayer;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.config.ProfileException;
import dev.montage.runtime.config.ProfileProblem;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TensorDType;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedding API: a pipeline from a profile, with an integrator's own scheduler and attention processor, on
 * Montage's tiny random model (written by the test).
 */
class MontagePipelineTest {
    @TempDir
    static Path dir;
    private static ComponentRegistry registry;
    private static Path profile;

    @BeforeAll
    static void writeModel() throws Exception {
        registry = ComponentRegistry.fromClasspath(MontagePipelineTest.class.getClassLoader());
        RandomModel.write(dir.resolve("model"), "tiny", TensorDType.F32, 3, registry);
        profile = dir.resolve("profiles/tiny-model.yaml");
        Files.createDirectories(profile.getParent());
        Files.writeString(profile, "models:\n  base: ../model\ndefaults: {width: 64, height: 64, steps: 3}\n");
    }

    /** Euler steps on a linear ramp of noise levels: the simplest sampler an integrator might bring. */
    static final class RampScheduler implements Scheduler {
        final AtomicInteger runs = new AtomicInteger();

        @Override
        public Run start(int steps, NDManager state) {
            runs.incrementAndGet();
            float[] sigmas = new float[steps + 1];
            float[] timesteps = new float[steps];
            for (int i = 0; i < steps; i++) {
                sigmas[i] = 10f * (steps - i) / steps;
                timesteps[i] = 999f * (steps - i) / steps;
            }
            return new Run() {
                @Override
                public float[] timesteps() {
                    return timesteps;
                }

                @Override
                public float initNoiseSigma() {
                    return (float) Math.sqrt(sigmas[0] * sigmas[0] + 1);
                }

                @Override
                public NDArray scaleModelInput(NDArray latents, int index) {
                    return latents.div(Math.sqrt(sigmas[index] * sigmas[index] + 1));
                }

                @Override
                public NDArray step(NDArray modelOutput, int index, NDArray latents) {
                    try (NDManager scope = latents.getManager().newSubManager()) {
                        NDArray next = Scopes.borrow(latents, scope)
                                .add(Scopes.borrow(modelOutput, scope).mul(sigmas[index + 1] - sigmas[index]));
                        next.attach(latents.getManager());
                        return next;
                    }
                }
            };
        }
    }

    /** Cross-attention over the text tokens only, counting the layers it serves. */
    static final class TextAttention implements AttentionProcessor {
        final Set<String> layers = ConcurrentHashMap.newKeySet();
        final AtomicInteger calls = new AtomicInteger();

        @Override
        public NDArray forward(AttentionLayer layer, NDArray hidden, EncoderContext context, int gridHeight,
                int gridWidth,
                GenerationContext ctx) {
            layers.add(layer.name());
            calls.incrementAndGet();
            NDManager caller = hidden.getManager();
            try (NDManager scope = caller.newSubManager()) {
                NDArray x = Scopes.borrow(hidden, scope);
                NDArray text = Scopes.borrow(context.text(), scope);
                NDArray q = heads(layer.query(x), layer.heads());
                NDArray k = heads(layer.key(text), layer.heads());
                NDArray v = heads(layer.value(text), layer.heads());
                NDArray attended = layer.kernels().scaledDotProductAttention(q, k, v, null);
                long[] s = attended.getShape().getShape();
                NDArray out = layer.output(attended.transpose(0, 2, 1, 3).reshape(s[0], s[2], s[1] * s[3]));
                out.attach(caller);
                return out;
            }
        }

        private static NDArray heads(NDArray x, int heads) {
            long[] s = x.getShape().getShape();
            return x.reshape(s[0], s[1], heads, s[2] / heads).transpose(0, 2, 1, 3);
        }
    }

    private static Subject dog() {
        return Subject.of(new BufferedImage(40, 40, BufferedImage.TYPE_INT_RGB), "dog.png", "dog",
                new Box(0.25, 0.25, 0.75, 0.75));
    }

    @Test
    void customSchedulerAndAttentionProcessorInstancesGenerate() {
        RampScheduler scheduler = new RampScheduler();
        TextAttention attention = new TextAttention();
        try (MontagePipeline montage = MontagePipeline.builder().profile(profile).registry(registry)
                .engine(TestEngine.engine())
                .set(ComponentKind.SCHEDULER, scheduler)
                .set(ComponentKind.ATTENTION_PROCESSOR, attention)
                .build()) {
            int before = TestEngine.manager().getManagedArrays().size();
            GenerationResult result = montage.generate(montage.request("a dog on the beach").subject(dog()).build());
            assertEquals(before, TestEngine.manager().getManagedArrays().size());
            BufferedImage image = result.images().get(0);
            assertEquals(64, image.getWidth());
            assertEquals(64, image.getHeight());
            assertEquals("custom", result.parameters().get("scheduler"));
            assertEquals(1, scheduler.runs.get());
            // every cross-attention layer, and only those, once per step (both guidance halves in one batch)
            assertFalse(attention.layers.isEmpty());
            assertTrue(attention.layers.stream().allMatch(l -> l.endsWith(".attn2")), attention.layers::toString);
            assertEquals(attention.layers.size() * 3, attention.calls.get());
        }
    }

    @Test
    void registeredIdsReplaceTheProfilesChoices() {
        RampScheduler ramp = new RampScheduler();
        try (MontagePipeline montage = MontagePipeline.builder().profile(profile).registry(registry)
                .engine(TestEngine.engine())
                .set(ComponentKind.SCHEDULER, "ddim")
                .attention(".*mid_block.*attn2", "default")
                .scheduler("ramp", ramp)
                .build()) {
            GenerationResult result = montage.generate(montage.request("a dog").subject(dog()).steps(2).build());
            assertEquals("ddim", result.parameters().get("scheduler"));
            assertEquals(profile + ":3", montage.profile().origin("defaults.steps"));
            montage.generate(montage.request("a dog").scheduler("ramp").steps(2).build());
            assertEquals(1, ramp.runs.get());
        }
    }

    @Test
    void theAssemblyIsCheckedBeforeAnyWeightIsRead() {
        ProfileException e = assertThrows(ProfileException.class, () -> MontagePipeline.builder().profile(profile)
                .registry(registry)
                .set(ComponentKind.DENOISING_MODEL, "sdxl-unett")
                .attention(".*", "flash")
                .setting("models.ms_adapter", dir.resolve("missing.bin"))
                .build());
        assertEquals(List.of(
                new ProfileProblem("MontagePipeline.Builder.setting(models.ms_adapter)", "models.ms_adapter",
                        dir.resolve("missing.bin") + " does not exist; expected MS-Diffusion's ms_adapter.bin (torch "
                                + "checkpoint)"),
                new ProfileProblem("MontagePipeline.Builder.set(DENOISING_MODEL)", "components.unet", "no installed "
                        + "plugin provides the denoising model 'sdxl-unett'; did you mean sdxl-unet? (expected one of "
                        + "sdxl-unet)"),
                new ProfileProblem("MontagePipeline.Builder.attention(.*)", "", "no installed plugin provides the "
                        + "attention processor 'flash' (expected one of default, ip-adapter, ms-diffusion)")),
                e.problems());
        ProfileException noModel = assertThrows(ProfileException.class, () -> MontagePipeline.builder()
                .registry(registry).build());
        assertEquals("models.base", noModel.problems().get(0).key());
    }

    @Test
    void validateChecksTheComponentsWithoutAssemblingAndLeavesAGivenEngineRunning() throws Exception {
        assertEquals(dir.resolve("model").normalize(), MontagePipeline.builder().profile(profile).registry(registry)
                .engine(TestEngine.engine()).validate().profile().models().base().orElseThrow().normalize());
        Path wide = dir.resolve("wide");
        RandomModel.write(wide, "tiny", TensorDType.F32, 3, registry);
        Path config = wide.resolve("unet/config.json");
        Files.writeString(config, Files.readString(config).replaceFirst("\"cross_attention_dim\" ?: ?64",
                "\"cross_attention_dim\": 48"));
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> MontagePipeline.builder()
                .setting("models.base", wide).registry(registry).engine(TestEngine.engine()).validate());
        assertTrue(e.getMessage().startsWith("the pipeline's components do not fit together")
                && e.getMessage().contains(config.toString()), e.getMessage());
        // the shared engine still computes
        try (NDManager manager = TestEngine.engine().manager().newSubManager()) {
            assertEquals(3f, manager.create(new float[] {1f, 2f}).sum().getFloat());
        }
    }

    /** Each value of pipeline.warm_up: the generation it runs, which leaves no array behind; a misspelt one refused. */
    @Test
    void theWarmUpRunsTheGenerationTheProfileNames() {
        for (String warmUp : List.of("none", "small", "default_size")) {
            RampScheduler scheduler = new RampScheduler();
            try (MontagePipeline montage = MontagePipeline.builder().profile(profile).registry(registry)
                    .engine(TestEngine.engine())
                    .set(ComponentKind.SCHEDULER, scheduler)
                    .setting("pipeline.warm_up", warmUp)
                    .setting("defaults.width", 96)
                    .build()) {
                int before = TestEngine.manager().getManagedArrays().size();
                Optional<GenerationRequest> request = montage.warmUpRequest();
                assertEquals(!warmUp.equals("none"), montage.warmUp(), warmUp);
                assertEquals(warmUp.equals("none") ? 0 : 1, scheduler.runs.get(), warmUp);
                assertEquals(before, TestEngine.manager().getManagedArrays().size(), warmUp);
                if (warmUp.equals("none")) {
                    assertTrue(request.isEmpty());
                    continue;
                }
                GenerationRequest r = request.orElseThrow();
                assertEquals(warmUp.equals("small") ? 64 : 96, r.width(), warmUp);
                assertEquals(64, r.height(), warmUp);
                assertEquals(1, r.steps());
                assertEquals(1, r.numImages());
                assertEquals(Optional.of("custom"), r.scheduler());
                assertEquals(montage.request("").build().guidanceScale(), r.guidanceScale());
                assertEquals(1, r.subjects().size());
                assertEquals("picture", r.subjects().get(0).phrase());
                assertEquals(Box.FULL, r.subjects().get(0).box());
            }
        }
        ProfileException e = assertThrows(ProfileException.class, () -> MontagePipeline.builder().profile(profile)
                .registry(registry).setting("pipeline.warm_up", "default-size").validate());
        assertEquals(List.of(new ProfileProblem("MontagePipeline.Builder.setting(pipeline.warm_up)", "pipeline.warm_up",
                "unknown warm-up 'default-size'; did you mean default_size? (expected one of none, small, "
                        + "default_size)")), e.problems());
    }

    /** The shipped profile tiny from Java: the recipe's tiny random model, written once into the cache folder. */
    @Test
    void theTinyProfileRunsOnTheEmbeddedModelWrittenOnce() throws Exception {
        Path cache = dir.resolve("cache");
        Path folder;
        try (MontagePipeline tiny = MontagePipeline.builder().registry(registry).profile("tiny").cacheFolder(cache)
                .build()) {
            folder = tiny.profile().profile().models().base().orElseThrow();
            assertTrue(folder.startsWith(cache.resolve("models")), folder.toString());
            assertTrue(Files.isRegularFile(folder.resolve(RandomModel.MARKER)));
            assertTrue(tiny.profile().origin("models.base").startsWith("models.random: tiny (classpath:"),
                    tiny.profile().origin("models.base"));
            GenerationResult result = tiny.generate(tiny.request("a ball").size(64, 64).steps(2).seed(1)
                    .subject(Subject.of(new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB), "ball.png", "ball",
                            new Box(0, 0, 0.5, 0.5))).build());
            assertEquals(64, result.images().get(0).getWidth());
        }
        var written = Files.getLastModifiedTime(folder.resolve(RandomModel.MARKER));
        try (MontagePipeline again = MontagePipeline.builder().registry(registry).profile("tiny").cacheFolder(cache)
                .build()) {
            assertEquals(folder, again.profile().profile().models().base().orElseThrow());
        }
        assertEquals(written, Files.getLastModifiedTime(folder.resolve(RandomModel.MARKER)));
        try (var models = Files.list(cache.resolve("models"))) {
            assertEquals(List.of(folder), models.toList(), "nothing else is left in the cache");
        }
    }
}

package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.Box;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.Latents;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Whole generations with every scheduler the pipeline offers, with enough steps for multistep solvers to use the
 * history they keep between steps, with and without classifier-free guidance, under the model file's leading
 * timestep spacing and under the trailing spacing of few-step models (given as a profile option), and from a picture.
 */
class SchedulerGenerationTest {
    private static final int STEPS = 6;
    /** Zero terminal SNR as its models run it: v-prediction from the last training timestep. */
    private static final Map<String, String> ZERO_SNR = Map.of("rescale_betas_zero_snr", "true", "prediction_type",
            "v_prediction", "timestep_spacing", "trailing");
    private static final String PLUGIN_SCHEDULER = "test-adams-bashforth";
    private static final String FIRST_ORDER_DPM = "test-dpmpp-first-order";
    private static final List<NDArray> KEPT = new ArrayList<>();
    /** Each scheduler's latents under the leading spacing, for the trailing runs to be compared with. */
    private static final Map<String, float[]> LEADING = new ConcurrentHashMap<>();
    private static MontagePipeline pipeline;
    private static MontagePipeline trailing;
    /** DDIM with η 0.5, given as a profile option. */
    private static MontagePipeline stochasticDdim;

    /** A third party's scheduler plugin, created through the registry like any other. */
    private record Plugin(String id, ComponentFactory<Scheduler> base, Map<String, ?> overrides,
            boolean keepsHistory) implements ComponentFactory<Scheduler> {
        @Override
        public ComponentKind kind() {
            return ComponentKind.SCHEDULER;
        }

        @Override
        public Scheduler create(ComponentContext context) {
            Scheduler euler = base.create(context).withOverrides(overrides);
            return keepsHistory ? new AdamsBashforthScheduler(euler) : euler;
        }
    }

    /**
     * Two-step Adams–Bashforth on the Euler scheduler's noise levels: each step after the first combines the
     * model's derivative with the previous step's, which it keeps in the generation's state scope.
     */
    private static final class AdamsBashforthScheduler implements Scheduler {
        private final Scheduler euler;

        AdamsBashforthScheduler(Scheduler euler) {
            this.euler = euler;
        }

        @Override
        public Run start(int steps, NDManager state) {
            Run base = euler.start(steps, state);
            return new Run() {
                private NDArray previous;

                @Override
                public float[] timesteps() {
                    return base.timesteps();
                }

                @Override
                public float initNoiseSigma() {
                    return base.initNoiseSigma();
                }

                @Override
                public NDArray scaleModelInput(NDArray latents, int index) {
                    return base.scaleModelInput(latents, index);
                }

                @Override
                public NDArray step(NDArray modelOutput, int index, NDArray latents) {
                    NDArray next;
                    try (NDManager scope = latents.getManager().newSubManager()) {
                        NDArray x = Scopes.borrow(modelOutput, scope);
                        next = base.step(previous == null ? x : x.mul(3f).sub(previous).mul(0.5f), index,
                                Scopes.borrow(latents, scope));
                        next.attach(latents.getManager());
                    }
                    NDArray kept = modelOutput.duplicate();
                    kept.attach(state);
                    synchronized (KEPT) {
                        KEPT.add(kept);
                    }
                    if (previous != null) {
                        previous.close();
                    }
                    previous = kept;
                    return next;
                }
            };
        }
    }

    @BeforeAll
    static void build() {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(SchedulerGenerationTest.class.getClassLoader());
        registry.register(new Plugin(PLUGIN_SCHEDULER,
                registry.factory(ComponentKind.SCHEDULER, "euler", Scheduler.class), Map.of(), true), "test-plugin");
        registry.register(new Plugin(FIRST_ORDER_DPM,
                registry.factory(ComponentKind.SCHEDULER, "dpmpp-2m", Scheduler.class), Map.of("solver_order", 1),
                false), "test-plugin");
        pipeline = TestEngine.pipeline(registry, TinyModel.folder()).build();
        trailing = TestEngine.pipeline(registry, TinyModel.folder())
                .setting("options.scheduler.timestep_spacing", "trailing").build();
        stochasticDdim = TestEngine.pipeline(registry, TinyModel.folder()).setting("options.scheduler.eta", "0.5")
                .build();
    }

    @AfterAll
    static void close() {
        for (MontagePipeline p : new MontagePipeline[] {pipeline, trailing, stochasticDdim}) {
            if (p != null) {
                p.close();
            }
        }
    }

    /** The request of {@link #request} from a picture, at a strength that takes half its steps. */
    private static GenerationRequest fromPicture(String scheduler, boolean guided) {
        return request(scheduler, guided).toBuilder().initImage(new InitImage(PipelineBehaviourTest.picture(
                Color.GREEN), "start.png", 0.5)).build();
    }

    private static GenerationRequest request(String scheduler, boolean guided) {
        GenerationRequest.Builder b = GenerationRequest.builder("a dog and a cat").size(32, 32).steps(STEPS)
                .seed(5).scheduler(scheduler).guidanceScale(guided ? 5 : 1);
        b.subject(Subject.of(PipelineBehaviourTest.picture(Color.RED), "dog.png", "dog", new Box(0, 0, 0.5, 1)));
        b.subject(Subject.of(PipelineBehaviourTest.picture(Color.BLUE), "cat.png", "cat", new Box(0.5, 0, 1, 1)));
        return b.build();
    }

    private static float[] latents(GenerationRequest r) {
        return latents(pipeline, r);
    }

    /**
     * The final latents; every evaluation is reported, the 2 · steps − 1 of Heun, DPM2 and DPM++ SDE included, and of a
     * run from a picture those of the steps it takes.
     */
    private static float[] latents(MontagePipeline p, GenerationRequest r) {
        Latents[] out = new Latents[1];
        List<Integer> steps = new ArrayList<>();
        p.generate(r, (step, total, elapsed) -> steps.add(step), out);
        String id = r.scheduler().orElseThrow();
        int evaluations = evaluations(id, r.stepsTaken()) + r.hires().map(h -> evaluations(id, h.stepsTaken(r.steps())))
                .orElse(0);
        assertEquals(IntStream.rangeClosed(1, evaluations).boxed().toList(), steps);
        return out[0].values();
    }

    private static int evaluations(String id, int steps) {
        return id.startsWith("heun") || id.startsWith("dpm2") || id.startsWith("dpmpp-sde") || id.startsWith("dpmpp-2s")
                ? 2 * steps - 1 : steps;
    }

    /** The request of {@link #request} with a hires pass to 48 × 48 that takes half its steps. */
    private static GenerationRequest withHires(String scheduler, boolean guided) {
        return request(scheduler, guided).toBuilder().hires(new Hires(48, 48, 0.5, 0, Hires.Upscaler.LATENT)).build();
    }

    @TestFactory
    Stream<DynamicTest> everySchedulerRunsWholeGenerationsWithAndWithoutGuidance() {
        assertTrue(pipeline.schedulerIds().containsAll(List.of("euler", "euler-karras", "euler-ancestral",
                "euler-ancestral-karras", "heun",
                "heun-karras", "dpm2", "dpm2-karras", "dpm2-ancestral", "dpm2-ancestral-karras", "lms", "lms-karras",
                "ddim", "dpmpp-2m", "dpmpp-2m-karras", "dpmpp-2m-sde", "dpmpp-2m-sde-karras", "dpmpp-sde",
                "dpmpp-sde-karras", "dpmpp-2s-ancestral", "dpmpp-2s-ancestral-karras", "dpmpp-3m-sde",
                "dpmpp-3m-sde-karras", "lcm", "unipc", PLUGIN_SCHEDULER)),
                pipeline.schedulerIds().toString());
        assertEquals(pipeline.schedulerIds(), trailing.schedulerIds());
        return Stream.of(wholeGenerations(pipeline, pipeline.schedulerIds(), "leading",
                SchedulerGenerationTest::request, (r, latents) -> LEADING.put(key(r), latents)),
                wholeGenerations(trailing, trailing.schedulerIds(), "trailing", SchedulerGenerationTest::request,
                        SchedulerGenerationTest::changedByTrailingSpacing),
                wholeGenerations(stochasticDdim, List.of("ddim"), "eta 0.5", SchedulerGenerationTest::request,
                        (r, latents) -> assertFalse(Arrays.equals(LEADING.computeIfAbsent(key(r),
                                k -> latents(pipeline, r)), latents), "η changes the latents")),
                wholeGenerations(pipeline, pipeline.schedulerIds().stream().filter(id -> !id.equals(PLUGIN_SCHEDULER))
                        .toList(), "from a picture", SchedulerGenerationTest::fromPicture, (r, latents) -> {
                            GenerationRequest noise = r.toBuilder().initImage(null).build();
                            assertFalse(Arrays.equals(LEADING.computeIfAbsent(key(noise), k -> latents(pipeline,
                                    noise)), latents), "the picture changes the latents");
                        }),
                wholeGenerations(pipeline, pipeline.schedulerIds().stream().filter(id -> !id.equals(PLUGIN_SCHEDULER))
                        .toList(), "with a hires pass", SchedulerGenerationTest::withHires,
                        (r, latents) -> assertEquals(4 * 6 * 6, latents.length, "the second pass's size")),
                Stream.of("use_exponential_sigmas", "use_beta_sigmas", "use_kl_optimal_sigmas",
                        "use_align_your_steps_sigmas")
                        .flatMap(setting -> wholeGenerations(pipeline, pipeline.schedulerIds().stream()
                                .filter(id -> !id.endsWith("-karras") && pipeline.schedulerProblems(id,
                                        Map.of(setting, "true")).isEmpty()).toList(), setting,
                        (id, guided) -> request(id, guided).toBuilder().schedulerOption(setting, "true").build(),
                        (r, latents) -> {
                            GenerationRequest plain = r.toBuilder().schedulerOptions(Map.of()).build();
                            assertFalse(Arrays.equals(LEADING.computeIfAbsent(key(plain), k -> latents(pipeline,
                                    plain)), latents), setting + " changes the latents");
                        })),
                wholeGenerations(pipeline, pipeline.schedulerIds().stream().filter(id -> pipeline
                        .schedulerProblems(id, ZERO_SNR).isEmpty()).toList(), "zero terminal SNR",
                        (id, guided) -> request(id, guided).toBuilder().schedulerOptions(ZERO_SNR).build(),
                        (r, latents) -> assertEquals(4 * 4 * 4, latents.length)),
                wholeGenerations(pipeline, pipeline.schedulerIds(), "with perturbed-attention guidance",
                        (id, guided) -> request(id, guided).toBuilder().perturbedAttention(PerturbedAttention.of(2))
                                .build(), (r, latents) -> {
                            GenerationRequest plain = r.toBuilder().perturbedAttention(null).build();
                            assertFalse(Arrays.equals(LEADING.computeIfAbsent(key(plain), k -> latents(pipeline,
                                    plain)), latents), "the guidance changes the latents");
                        }))
                .flatMap(s -> s);
    }

    /**
     * The generations of schedulers {@code ids} on {@code p}, guided and unguided, each run twice.
     *
     * @param requestOf the request of a scheduler, guided or not
     * @param check     what else the latents of a request must satisfy
     */
    private static Stream<DynamicTest> wholeGenerations(MontagePipeline p, List<String> ids, String variant,
            BiFunction<String, Boolean, GenerationRequest> requestOf, BiConsumer<GenerationRequest, float[]> check) {
        return ids.stream().flatMap(id -> Stream.of(true, false).map(guided ->
                DynamicTest.dynamicTest(id + " " + variant + (guided ? " guided" : " unguided"), () -> {
                    int before = TestEngine.manager().getManagedArrays().size();
                    GenerationRequest r = requestOf.apply(id, guided);
                    float[] first = latents(p, r);
                    for (float v : first) {
                        assertTrue(Float.isFinite(v), id + ": non-finite latents");
                    }
                    assertArrayEquals(first, latents(p, r), id + ": the same request gives the same latents");
                    assertEquals(before, TestEngine.manager().getManagedArrays().size(),
                            id + ": nothing of the generation remains");
                    check.accept(r, first);
                })));
    }

    /**
     * The profile's spacing reaches every scheduler, plugin ones built on a built-in included, except DPM-Solver++
     * (ODE or SDE) with Karras sigmas, whose noise levels span the whole training range whatever the spacing, and LCM,
     * whose timesteps come from its distillation schedule (as in diffusers).
     */
    private static void changedByTrailingSpacing(GenerationRequest r, float[] latents) {
        float[] leading = LEADING.computeIfAbsent(key(r), k -> latents(pipeline, r));
        String id = r.scheduler().orElseThrow();
        boolean spaced = !id.equals("lcm") && (!id.endsWith("-karras") || id.startsWith("euler")
                || id.startsWith("heun") || id.startsWith("dpm2") || id.startsWith("lms")
                || id.startsWith("dpmpp-sde") || id.startsWith("dpmpp-2s") || id.startsWith("dpmpp-3m"));
        assertEquals(spaced, !Arrays.equals(leading, latents), id + ": whether trailing spacing changes the latents");
    }

    private static String key(GenerationRequest r) {
        return r.scheduler().orElseThrow() + " guidance " + r.guidanceScale();
    }

    /** A result names the component options its pipeline was built with, since they change its pixels. */
    @Test
    void aResultNamesTheOptionsItsComponentsRanWith() {
        GenerationRequest r = GenerationRequest.builder("a dog").size(32, 32).steps(1).seed(5).guidanceScale(1)
                .build();
        assertEquals("trailing", trailing.generate(r, ProgressListener.NONE).parameters()
                .get("options.scheduler.timestep_spacing"));
        assertEquals(List.of(), pipeline.generate(r, ProgressListener.NONE).parameters().keySet().stream()
                .filter(k -> k.startsWith("options.")).toList());
    }

    /**
     * A request's scheduler options act as the same profile options would, for that request alone: the shared
     * scheduler keeps its own settings for the next request.
     */
    @Test
    void aRequestsSchedulerOptionsActAsTheProfilesForThatRequestAlone() {
        for (String id : List.of("euler", "heun", "ddim", "dpmpp-2m", "unipc")) {
            for (boolean guided : new boolean[] {true, false}) {
                GenerationRequest plain = request(id, guided);
                GenerationRequest spaced = plain.toBuilder().schedulerOption("timestep_spacing", "trailing").build();
                assertArrayEquals(latents(trailing, plain), latents(spaced), id + " guided " + guided);
                assertArrayEquals(LEADING.computeIfAbsent(key(plain), k -> latents(pipeline, plain)), latents(plain),
                        id + ": the next request runs with the pipeline's settings again");
            }
        }
        GenerationRequest ddim = request("ddim", true);
        assertArrayEquals(latents(stochasticDdim, ddim), latents(ddim.toBuilder().schedulerOption("eta", "0.5")
                .build()));
    }

    /** A setting the request's scheduler would not read is refused, never ignored, before anything runs. */
    @Test
    void schedulerOptionsTheSchedulerDoesNotReadAreRefused() {
        record Refusal(String id, Map<String, String> options, String field, String message) {
        }
        for (Refusal r : List.of(
                new Refusal("euler", Map.of("eta", "0.5"), "schedulerOptions.eta", "unknown option (expected an "
                        + "option of scheduler 'euler': num_train_timesteps, beta_start, beta_end, beta_schedule, "
                        + "prediction_type, timestep_spacing, steps_offset, use_karras_sigmas, use_exponential_sigmas, "
                        + "use_beta_sigmas, use_kl_optimal_sigmas, use_align_your_steps_sigmas, interpolation_type, "
                        + "rescale_betas_zero_snr)"),
                new Refusal("ddim", Map.of("eta", "2"), "schedulerOptions.eta", "expected a number in 0..1, got '2'"),
                new Refusal("ddim", Map.of("timestep_spacin", "trailing"), "schedulerOptions.timestep_spacin",
                        "unknown option; did you mean timestep_spacing?"),
                new Refusal(PLUGIN_SCHEDULER, Map.of("eta", "0.5"), "schedulerOptions.eta",
                        "unknown option (no options are declared by scheduler '" + PLUGIN_SCHEDULER + "')"),
                new Refusal("euler-karras", Map.of("use_karras_sigmas", "false"), "schedulerOptions",
                        "scheduler 'euler-karras' refuses {use_karras_sigmas=false}: scheduler id 'euler-karras' "
                                + "fixes 'use_karras_sigmas' = true; a request cannot change it (another scheduler id "
                                + "has the other value)"))) {
            List<FieldError> problems = pipeline.schedulerProblems(r.id(), r.options());
            assertEquals(1, problems.size(), problems.toString());
            assertEquals(r.field(), problems.get(0).field());
            assertTrue(problems.get(0).message().startsWith(r.message()), problems.get(0).message());
            GenerationRequest request = request(r.id(), false).toBuilder().schedulerOptions(r.options()).build();
            InvalidRequestException refused = assertThrows(InvalidRequestException.class,
                    () -> pipeline.generate(request, ProgressListener.NONE));
            assertEquals(problems, refused.errors());
        }
        assertEquals(List.of(), pipeline.schedulerProblems("ddim", Map.of("eta", "0.5", "timestep_spacing",
                "trailing")));
        assertEquals("scheduler", pipeline.schedulerProblems("eulr", Map.of()).get(0).field());
    }

    /**
     * DPM-Solver++(3M), asked for by a request, runs whole generations with its two kept estimates in the state scope
     * (nothing remains after), and its third-order steps change the latents of the second-order solver.
     */
    @Test
    void thirdOrderDpmSolverRunsWholeGenerations() {
        for (boolean guided : new boolean[] {true, false}) {
            GenerationRequest second = request("dpmpp-2m", guided);
            GenerationRequest third = second.toBuilder().schedulerOption("solver_order", "3").build();
            int before = TestEngine.manager().getManagedArrays().size();
            float[] latents = latents(third);
            assertEquals(before, TestEngine.manager().getManagedArrays().size(), "nothing of the generation remains");
            for (float v : latents) {
                assertTrue(Float.isFinite(v), "non-finite latents");
            }
            assertFalse(Arrays.equals(latents(second), latents), "guided " + guided);
        }
    }

    @Test
    void secondOrderStepsUseTheKeptEstimate() {
        for (boolean guided : new boolean[] {true, false}) {
            assertFalse(Arrays.equals(latents(request("dpmpp-2m", guided)),
                    latents(request(FIRST_ORDER_DPM, guided))), "guided " + guided);
            assertFalse(Arrays.equals(latents(request("euler", guided)), latents(request(PLUGIN_SCHEDULER, guided))),
                    "guided " + guided);
        }
    }

    /**
     * The fresh noise of Euler ancestral, SDE-DPM-Solver++, DDIM with η and LCM comes from the seed: it changes what
     * a deterministic sampler gives, and image 2 of a batch of seed 5 is the generation of seed 6, guided or not
     * (another image's step noise would move it by far more than the tolerance).
     */
    @Test
    void theStepNoiseComesFromTheSeedPerImage() {
        record Stochastic(MontagePipeline pipeline, String id, String deterministic) {
        }
        for (Stochastic s : List.of(new Stochastic(pipeline, "euler-ancestral", "euler"),
                new Stochastic(pipeline, "dpmpp-2m-sde", "dpmpp-2m"), new Stochastic(stochasticDdim, "ddim", "ddim"),
                new Stochastic(pipeline, "dpm2-ancestral", "dpm2"),
                new Stochastic(pipeline, "lcm", "euler"))) {
            for (boolean guided : new boolean[] {true, false}) {
                String label = s.id() + (s.pipeline() == stochasticDdim ? " eta 0.5" : "") + " guided " + guided;
                GenerationRequest single = request(s.id(), guided);
                assertFalse(Arrays.equals(latents(request(s.deterministic(), guided)), latents(s.pipeline(), single)),
                        label);
                float[] batch = latents(s.pipeline(), single.toBuilder().numImages(2).build());
                float[] six = latents(s.pipeline(), single.toBuilder().seed(6).build());
                // equal but for the rounding of a batch of another size in the UNet (a few 1e-6)
                assertArrayEquals(six, Arrays.copyOfRange(batch, batch.length / 2, batch.length), 1e-4f, label);
            }
        }
    }

    @Test
    void aPluginSchedulersHistoryLivesUntilTheGenerationEnds() {
        synchronized (KEPT) {
            KEPT.clear();
        }
        latents(request(PLUGIN_SCHEDULER, true));
        synchronized (KEPT) {
            assertEquals(STEPS, KEPT.size());
            assertTrue(KEPT.stream().allMatch(NDArray::isReleased), "the state scope is closed with the generation");
        }
    }
}

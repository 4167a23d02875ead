package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.Box;
import dev.montage.api.GenerationRequest;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Recipe;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.testing.TestFactory;
import dev.montage.runtime.weights.TensorDType;
import java.awt.Color;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pipeline.release_encoders} and {@code pipeline.release_denoiser}: the released components are created for
 * each generation, closed once their part is done, and the pixels are those of a pipeline that holds them.
 */
class ReleasedEncodersTest {
    private static final List<ComponentKind> ENCODERS = List.of(ComponentKind.TEXT_ENCODER,
            ComponentKind.IMAGE_ENCODER, ComponentKind.SUBJECT_RESAMPLER);

    @TempDir
    Path dir;

    /** Creations and closes of the components a counting factory made. */
    private record Counts(AtomicInteger created, AtomicInteger closed) {
        int open() {
            return created.get() - closed.get();
        }
    }

    @Test
    void encodersAreClosedAfterEncodingAndCreatedAgainWithTheSamePixels() throws Exception {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());
        RandomModel.write(dir, "tiny", TensorDType.F32, 7, registry);
        Map<ComponentKind, Counts> counts = new EnumMap<>(ComponentKind.class);
        MontagePipeline.Builder released = TestEngine.pipeline(registry, dir)
                .setting("pipeline.release_encoders", true);
        for (ComponentKind kind : ENCODERS) {
            Counts c = new Counts(new AtomicInteger(), new AtomicInteger());
            counts.put(kind, c);
            registry.register(counting(kind, registry.factory(kind, recipeId(registry, kind),
                    Object.class), c), "test");
            released.set(kind, "counting");
        }
        GenerationRequest request = request();
        List<int[]> pixels = new ArrayList<>();
        try (MontagePipeline held = TestEngine.pipeline(registry, dir).build();
                MontagePipeline pipeline = released.build()) {
            counts.values().forEach(c -> assertEquals(0, c.created().get(), "nothing is loaded before a generation"));
            for (int generation = 1; generation <= 2; generation++) {
                List<Integer> openDuringSteps = new ArrayList<>();
                ProgressListener listener = (step, total, elapsed) -> openDuringSteps.add(
                        counts.values().stream().mapToInt(Counts::open).sum());
                pixels.add(PipelineBehaviourTest.pixels(pipeline.generate(request, listener).images().get(0)));
                assertTrue(openDuringSteps.stream().allMatch(o -> o == 0), "encoders open while denoising: "
                        + openDuringSteps);
                for (ComponentKind kind : ENCODERS) {
                    assertEquals(generation, counts.get(kind).created().get(), kind + " creations");
                    assertEquals(generation, counts.get(kind).closed().get(), kind + " closes");
                }
            }
            int[] reference = PipelineBehaviourTest.pixels(held.generate(request, ProgressListener.NONE).images()
                    .get(0));
            assertArrayEquals(reference, pixels.get(0));
            assertArrayEquals(reference, pixels.get(1));
        }
    }

    @Test
    void denoiserIsLoadedForDenoisingOnlyAndCreatedAgainWithTheSamePixels() throws Exception {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());
        RandomModel.write(dir, "tiny", TensorDType.F32, 7, registry);
        Counts unet = new Counts(new AtomicInteger(), new AtomicInteger());
        registry.register(counting(ComponentKind.DENOISING_MODEL, registry.factory(ComponentKind.DENOISING_MODEL,
                recipeId(registry, ComponentKind.DENOISING_MODEL), Object.class), unet), "test");
        GenerationRequest request = request();
        try (MontagePipeline held = TestEngine.pipeline(registry, dir).build();
                MontagePipeline pipeline = TestEngine.pipeline(registry, dir)
                        .set(ComponentKind.DENOISING_MODEL, "counting").setting("pipeline.release_denoiser", true)
                        .build()) {
            assertEquals(0, unet.created().get(), "the UNet is not loaded before a generation");
            String released = "denoising model 'counting'";
            assertFalse(pipeline.componentLoadTimes().containsKey(released), "no load time before the load");
            assertTrue(held.componentLoadTimes().keySet().stream().anyMatch(k -> k.startsWith("denoising model '")),
                    "a held UNet's load is timed at the build: " + held.componentLoadTimes());
            int[] reference = PipelineBehaviourTest.pixels(held.generate(request, ProgressListener.NONE).images()
                    .get(0));
            for (int generation = 1; generation <= 2; generation++) {
                Map<String, Integer> openAtStage = new LinkedHashMap<>();
                List<Integer> openDuringSteps = new ArrayList<>();
                ProgressListener listener = new ProgressListener() {
                    @Override
                    public boolean onStep(int step, int total, Duration elapsed) {
                        openDuringSteps.add(unet.open());
                        return true;
                    }

                    @Override
                    public void onStage(String stage) {
                        openAtStage.put(stage, unet.open());
                    }
                };
                int[] pixels = PipelineBehaviourTest.pixels(pipeline.generate(request, listener).images().get(0));
                assertTrue(pipeline.componentLoadTimes().containsKey(released), "the generation's load is timed");

                assertEquals(Map.of("encoding prompt", 0, "denoising", 1, "decoding", 0), openAtStage);
                assertEquals(List.of(1, 1), openDuringSteps);
                assertEquals(generation, unet.created().get(), "UNet creations");
                assertEquals(generation, unet.closed().get(), "UNet closes");
                assertArrayEquals(reference, pixels, "generation " + generation);
            }
        }
    }

    /** A factory that makes what {@code real} makes, counting creations and closes. */
    private static ComponentFactory<Object> counting(ComponentKind kind, ComponentFactory<Object> real, Counts c) {
        return TestFactory.of(kind, "counting", context -> {
            Object component = real.create(context);
            c.created().incrementAndGet();
            return Proxy.newProxyInstance(ReleasedEncodersTest.class.getClassLoader(),
                    new Class<?>[] {kind.type(), AutoCloseable.class}, (proxy, method, args) -> {
                        if (method.getName().equals("close") && method.getParameterCount() == 0) {
                            c.closed().incrementAndGet();
                            if (component instanceof AutoCloseable closeable) {
                                closeable.close();
                            }
                            return null;
                        }
                        try {
                            return method.invoke(component, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        });
    }

    private static GenerationRequest request() {
        GenerationRequest.Builder b = GenerationRequest.builder("a dog and a cat").size(64, 64).steps(2).seed(3);
        b.subject(Subject.of(PipelineBehaviourTest.picture(Color.RED), "dog.png", "dog", new Box(0.0, 0.2, 0.5, 0.8)));
        b.subject(Subject.of(PipelineBehaviourTest.picture(Color.BLUE), "cat.png", "cat", new Box(0.5, 0.2, 1.0, 0.8)));
        return b.build();
    }

    /** The component the installed recipe puts in a slot. */
    private static String recipeId(ComponentRegistry registry, ComponentKind kind) {
        return registry.factory(ComponentKind.RECIPE, "ms-diffusion-sdxl", Recipe.class).create(null).components()
                .get(kind);
    }
}

package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.montage.api.ConfigurationException;
import dev.montage.api.GenerationRequest;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.ProgressListener;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Registered schedulers are created when a request first names them: a plugin scheduler whose factory throws fails
 * only the requests that use it, by name, and is not created at all otherwise.
 */
class LazySchedulerTest {

    /** A scheduler plugin that counts how often it is asked to create its scheduler. */
    private static final class TestScheduler implements ComponentFactory<Scheduler> {
        private final String id;
        private final Function<ComponentContext, Scheduler> creator;
        private final AtomicInteger created = new AtomicInteger();

        TestScheduler(String id, Function<ComponentContext, Scheduler> creator) {
            this.id = id;
            this.creator = creator;
        }

        @Override
        public ComponentKind kind() {
            return ComponentKind.SCHEDULER;
        }

        @Override
        public String id() {
            return id;
        }

        @Override
        public Scheduler create(ComponentContext context) {
            created.incrementAndGet();
            return creator.apply(context);
        }
    }

    private static TestScheduler broken() {
        return new TestScheduler("broken", context -> {
            throw new IllegalStateException("the broken plugin cannot make schedulers");
        });
    }

    private static GenerationRequest request(String scheduler) {
        return GenerationRequest.builder("a dog").size(64, 64).steps(2).seed(3).scheduler(scheduler).build();
    }

    @Test
    void aThrowingSchedulerFailsOnlyTheRequestsThatNameIt() {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(LazySchedulerTest.class.getClassLoader());
        TestScheduler broken = broken();
        registry.register(broken, "test-plugin");
        TestScheduler counted = new TestScheduler("counted",
                registry.factory(ComponentKind.SCHEDULER, "euler", Scheduler.class)::create);
        registry.register(counted, "counting-plugin");
        try (MontagePipeline pipeline = TestEngine.pipeline(registry, TinyModel.folder()).build()) {
            assertTrue(pipeline.schedulerIds().containsAll(List.of("broken", "counted", "euler")),
                    pipeline.schedulerIds().toString());
            assertEquals(0, counted.created.get() + broken.created.get(), "created before a request names them");

            pipeline.generate(request("euler"), ProgressListener.NONE);
            for (int i = 0; i < 2; i++) {
                ConfigurationException e = assertThrows(ConfigurationException.class,
                        () -> pipeline.generate(request("broken"), ProgressListener.NONE));
                assertTrue(e.getMessage().contains("scheduler 'broken' from plugin test-plugin could not be created")
                        && e.getMessage().contains("the broken plugin cannot make schedulers"), e.getMessage());
            }
            pipeline.generate(request("counted"), ProgressListener.NONE);
            pipeline.generate(request("counted"), ProgressListener.NONE);
            assertEquals(1, counted.created.get(), "created once, on first use");
        }
    }

    @Test
    void aThrowingDefaultSchedulerFailsTheAssembly() {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(LazySchedulerTest.class.getClassLoader());
        registry.register(broken(), "test-plugin");
        MontagePipeline.Builder builder = TestEngine.pipeline(registry, TinyModel.folder())
                .set(ComponentKind.SCHEDULER, "broken");
        ConfigurationException e = assertThrows(ConfigurationException.class, builder::build);
        assertTrue(e.getMessage().contains("scheduler 'broken' from plugin test-plugin"), e.getMessage());
    }

    /** A scheduler holding a resource: the pipeline that created it must release it. */
    private static final class ClosingScheduler implements Scheduler, AutoCloseable {
        private final Scheduler delegate;
        private final AtomicBoolean closed = new AtomicBoolean();

        ClosingScheduler(Scheduler delegate) {
            this.delegate = delegate;
        }

        @Override
        public Run start(int steps, NDManager state) {
            return delegate.start(steps, state);
        }

        @Override
        public void close() {
            closed.set(true);
        }
    }

    @Test
    void schedulersCreatedOnFirstUseAreClosedWithThePipelineButGivenOnesAreNot() {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(LazySchedulerTest.class.getClassLoader());
        ComponentFactory<Scheduler> euler = registry.factory(ComponentKind.SCHEDULER, "euler", Scheduler.class);
        List<ClosingScheduler> made = new ArrayList<>();
        registry.register(new TestScheduler("closing", context -> {
            ClosingScheduler s = new ClosingScheduler(euler.create(context));
            made.add(s);
            return s;
        }), "closing-plugin");
        // never run: only its ownership matters
        ClosingScheduler given = new ClosingScheduler(null);
        try (MontagePipeline pipeline = TestEngine.pipeline(registry, TinyModel.folder()).scheduler("given", given)
                .build()) {
            pipeline.generate(request("closing"), ProgressListener.NONE);
            assertEquals(1, made.size());
            assertTrue(!made.get(0).closed.get() && !given.closed.get(), "closed while the pipeline is open");
        }
        assertTrue(made.get(0).closed.get(), "the created scheduler was not closed with the pipeline");
        assertTrue(!given.closed.get(), "a given instance belongs to its owner");
    }

    @Test
    void anUnknownSchedulerIsARequestError() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> TinyModel.pipeline().generate(request("nope"), ProgressListener.NONE));
        assertTrue(e.getMessage().contains("unknown scheduler 'nope', expected one of ["), e.getMessage());
        InvalidRequestException typo = assertThrows(InvalidRequestException.class,
                () -> TinyModel.pipeline().generate(request("eulr"), ProgressListener.NONE));
        assertTrue(typo.getMessage().contains("unknown scheduler 'eulr'; did you mean euler?"), typo.getMessage());
    }
}

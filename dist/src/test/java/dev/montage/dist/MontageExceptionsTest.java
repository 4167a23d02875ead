package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.ConfigurationException;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationCancelledException;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.MontageException;
import dev.montage.api.PluginException;
import dev.montage.api.ProgressListener;
import dev.montage.api.spi.ComponentKind;
import dev.montage.runtime.config.ProfileException;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.nio.file.Path;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an integrator catches: every error Montage reports through {@link MontagePipeline} is a
 * {@link MontageException} of the type that says whose move it is, on the tiny golden model.
 */
class MontageExceptionsTest {
    private static ComponentRegistry registry;
    private static MontagePipeline pipeline;

    @TempDir
    Path dir;

    @BeforeAll
    static void build() {
        registry = ComponentRegistry.fromClasspath(MontageExceptionsTest.class.getClassLoader());
        pipeline = TestEngine.pipeline(registry, Golden.model()).withoutSubjects().build();
    }

    @AfterAll
    static void close() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    private static GenerationRequest.Builder request() {
        return GenerationRequest.builder("a lighthouse").size(64, 64).steps(3).seed(5);
    }

    @Test
    void anUnknownSchedulerInARequestIsAnInvalidRequestWithTheClosestId() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> pipeline.generate(request().scheduler("eulr").build()));
        assertEquals(1, e.errors().size(), e.getMessage());
        FieldError error = e.errors().get(0);
        assertEquals("scheduler", error.field());
        assertTrue(error.message().startsWith("unknown scheduler 'eulr'; did you mean euler?"), error.message());
        assertInstanceOf(MontageException.class, e);
    }

    @Test
    void anUnknownComponentIdIsAPluginErrorWithTheClosestId() {
        PluginException e = assertThrows(PluginException.class,
                () -> registry.factory(ComponentKind.LATENT_DECODER, "sdxl-vea", Object.class));
        assertTrue(e.getMessage().startsWith("no plugin provides latent decoder 'sdxl-vea'; did you mean sdxl-vae?"),
                e.getMessage());
        assertInstanceOf(MontageException.class, e);

        // named to the builder, it is one of the configuration's problems, all reported at once
        ProfileException named = assertThrows(ProfileException.class, () -> TestEngine.pipeline(registry,
                Golden.model()).set(ComponentKind.LATENT_DECODER, "sdxl-vea").build());
        assertTrue(named.getMessage().contains("no installed plugin provides the latent decoder 'sdxl-vea'; did you "
                + "mean sdxl-vae?"), named.getMessage());
    }

    @Test
    void aBrokenProfileIsAProfileErrorListingItsProblems() {
        ProfileException e = assertThrows(ProfileException.class, () -> TestEngine.pipeline(registry, Golden.model())
                .setting("defaults.stpes", 3).setting("engine.dtype", "float7").build());
        assertEquals(2, e.problems().size(), e.getMessage());
        assertTrue(e.getMessage().contains("did you mean defaults.steps?"), e.getMessage());
        assertInstanceOf(ConfigurationException.class, e);
    }

    @Test
    void aMissingModelFolderIsAConfigurationError() {
        Path missing = dir.resolve("no-such-model");
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> TestEngine.pipeline(registry, missing).build());
        assertTrue(e.getMessage().contains(missing + " does not exist"), e.getMessage());
    }

    @Test
    void aStopTheListenerAsksForIsAGenerationCancelled() {
        ProgressListener stopAfterOne = (step, total, elapsed) -> false;
        GenerationCancelledException e = assertThrows(GenerationCancelledException.class,
                () -> pipeline.generate(request().build(), stopAfterOne));
        assertTrue(e.getMessage().contains("after step 1 of 3"), e.getMessage());

        CompletableFuture<GenerationResult> future = pipeline.generateAsync(request().build(), stopAfterOne);
        ExecutionException failed = assertThrows(ExecutionException.class, () -> future.get(120, TimeUnit.SECONDS));
        assertInstanceOf(GenerationCancelledException.class, failed.getCause());
        assertFalse(future.isCancelled(), "the generation stopped itself: the future was not cancelled");
    }

    @Test
    void aCancelledFutureReportsTheFuturesCancellation() throws Exception {
        CountDownLatch firstStep = new CountDownLatch(1);
        CountDownLatch cancelled = new CountDownLatch(1);
        CompletableFuture<GenerationResult> future = pipeline.generateAsync(request().build(),
                (step, total, elapsed) -> {
                    firstStep.countDown();
                    try {
                        cancelled.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return true;
                });
        assertTrue(firstStep.await(120, TimeUnit.SECONDS));
        assertTrue(future.cancel(true));
        cancelled.countDown();
        assertThrows(CancellationException.class, () -> future.get(120, TimeUnit.SECONDS));
    }

    @Test
    void aClosedPipelineIsTheCallersMistakeNotAMontageError() {
        MontagePipeline closed = TestEngine.pipeline(registry, Golden.model()).withoutSubjects().build();
        closed.close();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> closed.generate(request().build()));
        assertFalse(MontageException.class.isInstance(e));
        assertEquals("the pipeline is closed", e.getMessage());
    }
}

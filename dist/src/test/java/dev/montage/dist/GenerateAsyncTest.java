package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.ProgressListener;
import dev.montage.runtime.pipeline.MontagePipeline;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Generations as futures and on interrupted threads: a future gives the pixels the call gives; cancelling it, or
 * interrupting the thread of a generation, stops the generation before its next step.
 */
class GenerateAsyncTest {
    private static final int STEPS = 4;

    private static GenerationRequest request() {
        return GenerationRequest.builder("a ball on the beach").size(64, 64).steps(STEPS).seed(3).build();
    }

    private static int[] pixels(BufferedImage image) {
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    @Test
    void aFutureGivesThePixelsOfTheCall() throws Exception {
        MontagePipeline pipeline = TinyModel.pipeline();
        int[] expected = pixels(pipeline.generate(request()).images().get(0));
        CompletableFuture<GenerationResult> future = pipeline.generateAsync(request(), ProgressListener.NONE);
        assertArrayEquals(expected, pixels(future.get(120, TimeUnit.SECONDS).images().get(0)));
    }

    @Test
    void cancellingTheFutureStopsTheGeneration() throws Exception {
        CountDownLatch firstStep = new CountDownLatch(1);
        CountDownLatch cancelled = new CountDownLatch(1);
        AtomicInteger steps = new AtomicInteger();
        CountDownLatch ended = new CountDownLatch(1);
        ProgressListener listener = (step, total, elapsed) -> {
            steps.set(step);
            firstStep.countDown();
            await(cancelled);
            return true;
        };
        ExecutorService executor = Executors.newSingleThreadExecutor();
        try {
            CompletableFuture<GenerationResult> future = TinyModel.pipeline().generateAsync(request(),
                    listener, task -> executor.execute(() -> {
                        try {
                            task.run();
                        } finally {
                            ended.countDown();
                        }
                    }));
            assertTrue(firstStep.await(120, TimeUnit.SECONDS));
            assertTrue(future.cancel(true));
            cancelled.countDown();
            assertTrue(ended.await(120, TimeUnit.SECONDS), "the generation ends");
            assertEquals(1, steps.get(), "no step after the cancel");
            assertThrows(CancellationException.class, future::join);
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void anInterruptStopsTheGeneration() throws Exception {
        CountDownLatch firstStep = new CountDownLatch(1);
        CountDownLatch interrupted = new CountDownLatch(1);
        AtomicInteger steps = new AtomicInteger();
        ProgressListener listener = new ProgressListener() {
            @Override
            public boolean onStep(int step, int total, Duration elapsed) {
                steps.set(step);
                firstStep.countDown();
                // waits without taking the interrupt, so the pipeline is the one to see it
                while (interrupted.getCount() > 0) {
                    Thread.onSpinWait();
                }
                return true;
            }
        };
        ExecutorService executor = Executors.newSingleThreadExecutor();
        try {
            Future<?> run = executor.submit(() -> TinyModel.pipeline().generate(request(), listener));
            assertTrue(firstStep.await(120, TimeUnit.SECONDS));
            run.cancel(true);
            interrupted.countDown();
            executor.shutdown();
            assertTrue(executor.awaitTermination(120, TimeUnit.SECONDS), "the generation ends");
            assertEquals(1, steps.get(), "no step after the interrupt");
        } finally {
            executor.shutdownNow();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(120, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.Box;
import dev.montage.api.GenerationCancelledException;
import dev.montage.api.GenerationRequest;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** A cancel or an interrupt takes effect inside a stage, at the next checkpoint, and leaves nothing behind. */
class CancellationTest {

    private static GenerationRequest request() {
        return GenerationRequest.builder("a dog on a beach").size(32, 32).steps(4).seed(3)
                .subject(Subject.of(PipelineBehaviourTest.picture(Color.RED), "dog.png", "dog", new Box(0, 0, 1, 1)))
                .build();
    }

    /** Records stages and polls, and asks to stop from poll {@code cancelAt} on. */
    private static final class Recorder implements ProgressListener {
        final List<String> stages = new ArrayList<>();
        final List<String> pollsByStage = new ArrayList<>();
        final int cancelAt;
        int steps;

        Recorder(int cancelAt) {
            this.cancelAt = cancelAt;
        }

        @Override
        public boolean onStep(int step, int total, Duration elapsed) {
            steps = step;
            return true;
        }

        @Override
        public void onStage(String stage) {
            stages.add(stage);
        }

        @Override
        public boolean cancelRequested() {
            pollsByStage.add(stages.isEmpty() ? "" : stages.get(stages.size() - 1));
            return pollsByStage.size() >= cancelAt;
        }
    }

    @Test
    void aCancelTakesEffectInsideTheStageItArrivesIn() {
        MontagePipeline pipeline = TinyModel.pipeline();
        Recorder full = new Recorder(Integer.MAX_VALUE);
        pipeline.generate(request(), full);
        long whileEncoding = full.pollsByStage.stream().filter("encoding prompt"::equals).count();
        assertTrue(whileEncoding > 3, "the encoders poll between their layers: " + full.pollsByStage);
        long whileDecoding = full.pollsByStage.stream().filter("decoding"::equals).count();
        assertTrue(whileDecoding > 1, "the decoder polls between its blocks: " + full.pollsByStage);

        int before = TestEngine.manager().getManagedArrays().size();
        int cancelAt = full.pollsByStage.indexOf("encoding prompt") + 3;
        Recorder cancelling = new Recorder(cancelAt);
        assertThrows(GenerationCancelledException.class, () -> pipeline.generate(request(), cancelling));
        assertEquals(cancelAt, cancelling.pollsByStage.size(), "the poll that saw the cancel was the last");
        assertEquals("encoding prompt", cancelling.pollsByStage.get(cancelAt - 1));
        assertFalse(cancelling.stages.contains("denoising"));
        assertEquals(before, TestEngine.manager().getManagedArrays().size(), "nothing of the generation remains");
    }

    @Test
    void anInterruptOfTheGeneratingThreadCancelsWithinTheNextStep() throws Exception {
        MontagePipeline pipeline = TinyModel.pipeline();
        int before = TestEngine.manager().getManagedArrays().size();
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicBoolean stillInterrupted = new AtomicBoolean();
        List<Integer> steps = new ArrayList<>();
        Thread worker = new Thread(() -> {
            try {
                pipeline.generate(request(), (step, total, elapsed) -> {
                    steps.add(step);
                    if (step == 1) {
                        Thread.currentThread().interrupt();
                    }
                    return true;
                });
            } catch (Throwable t) {
                thrown.set(t);
                stillInterrupted.set(Thread.currentThread().isInterrupted());
            }
        });
        worker.start();
        worker.join(60_000);
        assertTrue(thrown.get() instanceof GenerationCancelledException, String.valueOf(thrown.get()));
        assertEquals(List.of(1), steps);
        assertTrue(stillInterrupted.get(), "the interrupt stays set for the caller");
        assertEquals(before, TestEngine.manager().getManagedArrays().size(), "nothing of the generation remains");
    }
}

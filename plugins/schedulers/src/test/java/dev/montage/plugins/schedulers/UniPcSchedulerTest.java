package dev.montage.plugins.schedulers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.testing.TestEngine;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * UniPC's bookkeeping: what a run keeps between steps and where, the order of its steps, its settings and its small
 * linear solver. Its numbers are checked against diffusers' runs in {@link StepTest}.
 */
class UniPcSchedulerTest {
    private static final Shape SHAPE = new Shape(1, 4, 4, 4);

    private static UniPcScheduler uniPc(Map<String, ?> overrides) {
        return new UniPcScheduler(SdxlSchedulerConfig.settings(overrides));
    }

    /**
     * The converted outputs of the last {@code solver_order} steps and the latents the corrector starts from live in
     * the generation's state scope, none beyond what a later step needs, and nothing after the last step.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void keepsTheOutputsOfItsOrderAndTheCorrectorsLatentsInTheStateScopeUntilTheLastStep(int order) {
        int steps = 5;
        try (NDManager state = TestEngine.manager().newSubManager();
                NDManager inputs = TestEngine.manager().newSubManager()) {
            Scheduler.Run run = uniPc(Map.of("solver_order", order)).start(steps, state);
            Random random = new Random(2);
            NDArray x = inputs.create(DpmSolverMultistepSchedulerTest.gaussian(random), SHAPE);
            for (int i = 0; i < steps; i++) {
                // as in a generation: the latents of each step belong to a scope closed after the step
                try (NDManager step = state.newSubManager()) {
                    NDArray current = Scopes.borrow(x, step);
                    NDArray next = run.step(step.create(DpmSolverMultistepSchedulerTest.gaussian(random), SHAPE), i,
                            current);
                    next.attach(inputs);
                    x.close();
                    x = next;
                }
                int expected = i == steps - 1 ? 0 : Math.min(i + 1, order) + 1;
                assertEquals(expected, state.getManagedArrays().size(), "after step " + i + " of order " + order);
            }
            assertEquals(1, inputs.getManagedArrays().size(), "only the final latents");
        }
    }

    @Test
    void stepsMustComeInOrder() {
        Scheduler.Run run = uniPc(Map.of()).start(4, TestEngine.manager());
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray x = m.create(DpmSolverMultistepSchedulerTest.gaussian(new Random(1)), SHAPE);
            run.step(x, 1, x).close();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> run.step(x, 3, x));
            assertEquals("UniPC steps must be taken in order: expected step 2, got 3", e.getMessage());
            assertEquals(m, x.getManager(), "the latents are back with their owner");
            run.step(x, 2, x).close();
        }
    }

    @Test
    void settingsOutOfRangeAreRefusedByName() {
        for (Map<String, Object> bad : List.of(Map.<String, Object>of("solver_order", 4),
                Map.<String, Object>of("disable_corrector", List.of(-1)),
                Map.<String, Object>of("disable_corrector", List.of(1.5)),
                Map.<String, Object>of("disable_corrector", "all"),
                Map.<String, Object>of("disable_corrector", "1, -2"),
                Map.<String, Object>of("solver_type", "euler"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> uniPc(bad));
            assertTrue(e.getMessage().startsWith("test override: '" + bad.keySet().iterator().next() + "' must be"),
                    e.getMessage());
        }
        IllegalArgumentException thresholding = assertThrows(IllegalArgumentException.class,
                () -> uniPc(Map.of("thresholding", true)));
        assertTrue(thresholding.getMessage().contains("dynamic thresholding is not implemented"),
                thresholding.getMessage());
        assertArrayEquals(new float[] {999, 749, 499, 249}, uniPc(Map.of("timestep_spacing", "trailing"))
                .withOverrides(Map.of("solver_order", 3)).start(4, TestEngine.manager()).timesteps());
    }

    /** The weights' systems are solved with partial pivoting, so a zero leading entry is no obstacle. */
    @Test
    void smallSystemsAreSolvedWithPivoting() {
        float[] x = UniPcScheduler.solve(new float[][] {{0, 2, 1}, {1, 1, 1}, {4, 0, 1}}, new float[] {5, 5, 7});
        assertArrayEquals(new float[] {1, 1, 3}, x, 1e-6f);
        assertArrayEquals(new float[] {-1, 2}, UniPcScheduler.solve(new float[][] {{1, 1}, {0.5f, 1}},
                new float[] {1, 1.5f}), 1e-6f);
        assertThrows(IllegalStateException.class, () -> UniPcScheduler.solve(new float[][] {{1, 1}, {1, 1}},
                new float[] {1, 2}));
    }
}

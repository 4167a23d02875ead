package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class BenchmarkTest {
    private static final long GIB = 1L << 30;

    @Test
    void aStageWhoseWeightsFitButNotTheirWorkingMemoryIsSkipped() {
        // the float32 weights of a whole generation with nothing released, on a 23.5 GiB machine: such a run was
        // killed for memory when only the weights were compared with what was available
        assertEquals(Optional.of("skipped: the whole pipeline needs about 31.5 GiB (21.0 GiB of weights in float32 "
                + "and their working memory), the machine has 22.0 GiB available"),
                Benchmark.shortfall("the whole pipeline", 21 * GIB, "float32", OptionalLong.of(22 * GIB)));
    }

    @Test
    void aStageWithRoomForOneAndAHalfTimesItsWeightsRuns() {
        assertEquals(Optional.empty(), Benchmark.shortfall("unet", 10 * GIB, "float32", OptionalLong.of(15 * GIB)));
        assertTrue(Benchmark.shortfall("unet", 10 * GIB, "float32", OptionalLong.of(15 * GIB - 1)).isPresent());
    }

    @Test
    void withoutAReadingOfAvailableMemoryEveryStageRuns() {
        assertEquals(Optional.empty(), Benchmark.shortfall("unet", 100 * GIB, "float32", OptionalLong.empty()));
    }
}

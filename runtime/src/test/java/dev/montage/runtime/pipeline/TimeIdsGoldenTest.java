package dev.montage.runtime.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.montage.runtime.testing.GoldenTensors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** SDXL micro-conditioning ({@code add_time_ids}) exactly as the reference pipeline built it. */
class TimeIdsGoldenTest {
    @ParameterizedTest
    @ValueSource(strings = {"single_subject_euler", "two_subjects_ddim", "plain_sdxl_euler", "controlnet_text_only"})
    void matchesTheReference(String name) {
        try (GoldenTensors golden = GoldenTensors.open(name)) {
            assertArrayEquals(golden.floats("add_time_ids"), Pipeline.timeIds(64, 64, 2));
        }
    }
}

package dev.montage.controlnet.pose;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.spi.Options;
import dev.montage.runtime.testing.Fuzzer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Mutated OpenPose keypoint files: each renders, or is refused naming the file, quickly. */
class KeypointsFuzzTest {
    private static final String TWO_PEOPLE = """
            {"people": [{"pose_keypoints_2d": [128, 50, 0.9, 128, 75, 0.9, 103, 76, 0.9, 95, 112, 0.9, 91, 148, 0.9,
              153, 76, 0.9, 161, 112, 0.9, 166, 148, 0.9, 112, 150, 0.9, 110, 196, 0.9, 109, 239, 0.9, 143, 150, 0.9,
              145, 196, 0.9, 146, 239, 0.9, 123, 44, 0.9, 133, 44, 0.9, 117, 47, 0.9, 139, 47, 0.9]},
             {"pose_keypoints_2d": [-3e9, 5e9, 1, 20, 30, 1, 0, 0, 0, 1e10, -1e10, 0.5, 40, 41, 1, 42, 43, 1, 44, 45, 1,
              46, 47, 1, 48, 49, 1, 50, 51, 1, 52, 53, 1, 54, 55, 1, 56, 57, 1, 58, 59, 1, 60, 61, 1, 62, 63, 1,
              64, 65, 1, 66, 67, -1]}],
             "canvas_width": 256, "canvas_height": 256}
            """;

    @Test
    void keypointFiles() {
        PosePreprocessor pose = new PosePreprocessor();
        int ran = new Fuzzer("keypoints", 0x9053, List.of(TWO_PEOPLE.getBytes(StandardCharsets.UTF_8))).run(3000,
                Duration.ofSeconds(6), bytes -> pose.preprocessData(bytes, "pose.json", Options.NONE, 128, 96),
                IllegalArgumentException.class);
        assertTrue(ran > 100, "ran " + ran);
    }
}

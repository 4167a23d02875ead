package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.GenerationRequest;
import dev.montage.api.ProgressListener;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TensorDType;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The buffer that converted weights are read through is freed when a load is over. */
class StagingMemoryTest {
    private static final BufferPoolMXBean DIRECT = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)
            .stream().filter(pool -> pool.getName().equals("direct")).findFirst().orElseThrow();

    @TempDir
    Path dir;

    private static void assertNoLoadBufferKept(long before, String when) {
        long kept = DIRECT.getMemoryUsed() - before;
        assertTrue(kept < 8 << 20, when + ": " + kept + " more bytes of direct buffers are held");
    }

    @Test
    void neitherABuildNorTheLoadsOfReleasedComponentsKeepTheStagingBuffer() throws Exception {
        // fp16 weights in float32 compute are converted, so every tensor goes through the staging buffer
        ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());
        RandomModel.write(dir, "tiny", TensorDType.F16, 7, registry);
        long before = DIRECT.getMemoryUsed();
        try (MontagePipeline pipeline = TestEngine.pipeline(registry, dir).setting("pipeline.release_encoders", true)
                .setting("pipeline.release_denoiser", true).build()) {
            assertNoLoadBufferKept(before, "after the build");
            pipeline.generate(GenerationRequest.builder("a dog").size(32, 32).steps(2).build(),
                    ProgressListener.NONE);
            assertNoLoadBufferKept(before, "after a generation that loaded the released components");
        }
    }
}

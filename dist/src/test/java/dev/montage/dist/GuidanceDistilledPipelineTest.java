package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.Box;
import dev.montage.api.GenerationRequest;
import dev.montage.api.Latents;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.testing.GuidanceDistilledUNet;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guidance-distilled UNet (LCM-SDXL's kind: {@code time_cond_proj_dim} in its configuration) in a whole pipeline:
 * one UNet pass per step with the guidance scale embedded, as diffusers' SDXL pipeline runs such a UNet.
 */
class GuidanceDistilledPipelineTest {
    @TempDir
    static Path dir;
    private static MontagePipeline pipeline;

    @BeforeAll
    static void build() throws IOException {
        GuidanceDistilledUNet.write(TinyModel.folder().resolve("unet"), dir.resolve("unet"), 16, 2);
        pipeline = TestEngine.pipeline(TinyModel.registry(), TinyModel.folder())
                .setting("models.unet", dir.resolve("unet").toString()).build();
    }

    @AfterAll
    static void close() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    private static GenerationRequest request(double guidance) {
        return GenerationRequest.builder("a dog and a cat").size(32, 32).steps(4).seed(3).scheduler("lcm")
                .guidanceScale(guidance)
                .subject(Subject.of(PipelineBehaviourTest.picture(Color.RED), "dog.png", "dog", new Box(0, 0, 0.5, 1)))
                .subject(Subject.of(PipelineBehaviourTest.picture(Color.BLUE), "cat.png", "cat", new Box(0.5, 0, 1, 1)))
                .build();
    }

    private static float[] latents(GenerationRequest r) {
        Latents[] out = new Latents[1];
        pipeline.generate(r, ProgressListener.NONE, out);
        return out[0].values();
    }

    @Test
    void theGuidanceScaleIsEmbeddedAndNoUnconditionalPassRuns() {
        int before = TestEngine.manager().getManagedArrays().size();
        float[] six = latents(request(6));
        assertEquals(before, TestEngine.manager().getManagedArrays().size(), "nothing of the generation remains");
        for (float v : six) {
            assertTrue(Float.isFinite(v), "non-finite latents");
        }
        assertArrayEquals(six, latents(request(6).toBuilder().negativePrompt("blurry, dark").build()),
                "no unconditional pass: the negative prompt is not used");
        assertFalse(Arrays.equals(six, latents(request(2))), "the scale reaches the UNet");
        float[] batch = latents(request(6).toBuilder().numImages(2).build());
        assertArrayEquals(six, Arrays.copyOf(batch, six.length), 1e-4f, "each image of a batch has its embedding");
        latents(request(1));
    }

    /**
     * Perturbed-attention guidance with a guidance-distilled UNet: its perturbed rows take the embedding of the scale
     * too, so where s_t is 0 at every step the result is the one without it; else it changes it.
     */
    @Test
    void perturbedAttentionGuidanceTakesTheEmbeddedScaleToo() {
        float[] six = latents(request(6).toBuilder().numImages(2).build());
        assertArrayEquals(six, latents(request(6).toBuilder().numImages(2).perturbedAttention(new PerturbedAttention(
                1, 1, List.of())).build()), 1e-5f);
        assertFalse(Arrays.equals(six, latents(request(6).toBuilder().numImages(2).perturbedAttention(
                PerturbedAttention.of(3)).build())));
    }
}

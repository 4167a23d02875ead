package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.AutoLayout;
import dev.montage.api.Box;
import dev.montage.api.Control;
import dev.montage.api.GenerationRequest;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.Latents;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.Variation;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Perturbed-attention guidance in whole generations on the tiny MS-Diffusion model with subjects, a ControlNet and two
 * images: its perturbed prediction is that of a UNet whose perturbed layers attend with the identity, computed in the
 * same batch as the guided rows without changing them.
 */
class PerturbedAttentionGenerationTest {
    /** The self-attention layers of the UNet's middle block, diffusers' default. */
    private static final String MID_SELF_ATTENTION = "mid_block\\..*\\.attn1";
    /** What a perturbed layer computes: each position attends to itself alone. */
    private static final AttentionProcessor IDENTITY = (layer, hidden, context, h, w, ctx) -> layer.output(
            layer.value(hidden));

    private static MontagePipeline pipeline;
    /** The same model with the middle block's self-attention replaced by the identity. */
    private static MontagePipeline perturbed;

    @BeforeAll
    static void build() {
        pipeline = builder().build();
        perturbed = builder().attention(MID_SELF_ATTENTION, IDENTITY).build();
    }

    private static MontagePipeline.Builder builder() {
        return TestEngine.pipeline(ComponentRegistry.fromClasspath(PerturbedAttentionGenerationTest.class
                .getClassLoader()), TinyModel.folder()).setting("models.controlnets.canny", TinyModel.folder()
                        .resolve("controlnet"));
    }

    @AfterAll
    static void close() {
        for (MontagePipeline p : new MontagePipeline[] {pipeline, perturbed}) {
            if (p != null) {
                p.close();
            }
        }
    }

    private static GenerationRequest.Builder request() {
        return GenerationRequest.builder("a dog").size(32, 32).seed(5).numImages(2).scheduler("euler")
                .subject(Subject.of(PipelineBehaviourTest.picture(Color.RED), "dog.png", "dog", new Box(0, 0, 0.5, 1)))
                .control(new Control("canny", PipelineBehaviourTest.picture(Color.WHITE), 0.5, 0, 1, Map.of()));
    }

    private static float[] latents(MontagePipeline p, GenerationRequest r) {
        Latents[] out = new Latents[1];
        p.generate(r, ProgressListener.NONE, out);
        return out[0].values();
    }

    /**
     * One Euler step is affine in the prediction, so with prediction ε_cfg + s · (ε_cond − ε_perturbed) its latents
     * are those of the plain step plus s times the difference between the unguided step and the unguided step of
     * the UNet whose middle block attends with the identity: with and without classifier-free guidance, for each of
     * the two images.
     */
    @Test
    void thePerturbedPredictionIsThatOfIdentitySelfAttention() {
        GenerationRequest unguided = request().steps(1).guidanceScale(1).build();
        float[] cond = latents(pipeline, unguided);
        float[] identity = latents(perturbed, unguided);
        assertFalse(Arrays.equals(cond, identity), "the middle block's self-attention matters");
        // the tiny model's middle block moves its latents little: a large scale makes the term measurable
        double s = 40;
        for (double guidance : new double[] {1, 4}) {
            GenerationRequest plain = unguided.toBuilder().guidanceScale(guidance).build();
            float[] base = latents(pipeline, plain);
            float[] guided = latents(pipeline, plain.toBuilder().perturbedAttention(PerturbedAttention.of(s)).build());
            float tolerance = (float) TestEngine.tolerance(2e-5, 4);
            for (int i = 0; i < guided.length; i++) {
                double expected = base[i] + s * (cond[i] - identity[i]);
                assertEquals(expected, guided[i], tolerance * Math.max(1, Math.abs(expected)), "guidance " + guidance
                        + ", element " + i);
            }
        }
    }

    /**
     * Where the adaptive scale brings s_t to 0 at every step the guidance adds nothing: a whole multistep generation
     * with the perturbed rows in every batch gives the plain one's latents, so the guided and conditional rows of
     * the larger batch (subjects laid out by their attention, control, size conditioning) are the plain batch's.
     */
    @Test
    void aScaleOfZeroAtEveryStepGivesThePlainGeneration() {
        for (double guidance : new double[] {1, 4}) {
            GenerationRequest plain = request().steps(4).scheduler("dpmpp-2m").guidanceScale(guidance)
                    .autoLayout(new AutoLayout(0.5, 1)).build();
            float[] expected = latents(pipeline, plain);
            float[] faded = latents(pipeline, plain.toBuilder().perturbedAttention(new PerturbedAttention(1, 1,
                    List.of())).build());
            assertArrayEquals(expected, faded, (float) TestEngine.tolerance(2e-5, 4), "guidance " + guidance);
        }
    }

    /**
     * The guidance acts at every step of a multistep sampler and in both passes of a hires generation, the layers
     * chosen matter, the same request gives the same latents, and nothing of a generation outlives it.
     */
    @Test
    void theGuidanceActsThroughWholeGenerations() {
        GenerationRequest plain = request().steps(4).scheduler("dpmpp-2m").guidanceScale(4).build();
        float[] base = latents(pipeline, plain);
        GenerationRequest mid = plain.toBuilder().perturbedAttention(new PerturbedAttention(3, 0.001, List.of()))
                .build();
        int before = TestEngine.manager().getManagedArrays().size();
        float[] withMid = latents(pipeline, mid);
        assertEquals(before, TestEngine.manager().getManagedArrays().size(), "nothing of the generation remains");
        assertFalse(Arrays.equals(base, withMid));
        assertArrayEquals(withMid, latents(pipeline, mid));
        float[] withUp = latents(pipeline, plain.toBuilder().perturbedAttention(new PerturbedAttention(3, 0.001,
                List.of("up_blocks\\.0"))).build());
        assertFalse(Arrays.equals(withMid, withUp), "other layers, another result");
        Hires hires = new Hires(48, 48, 0.5, 4, Hires.Upscaler.LATENT);
        float[] hiresPlain = latents(pipeline, plain.toBuilder().hires(hires).build());
        float[] hiresGuided = latents(pipeline, mid.toBuilder().hires(hires).build());
        assertEquals(2 * 4 * 6 * 6, hiresGuided.length);
        assertFalse(Arrays.equals(hiresPlain, hiresGuided));
        // a second pass without classifier-free guidance keeps the perturbed rows, its batch encoded anew
        float[] unguidedPass = latents(pipeline, mid.toBuilder().hires(hires.withGuidance(1)).build());
        assertFalse(Arrays.equals(hiresGuided, unguidedPass));
        assertFalse(Arrays.equals(latents(pipeline, plain.toBuilder().hires(hires.withGuidance(1)).build()),
                unguidedPass));
    }

    /**
     * Beside its neighbours: guidance rescale (applied after it), a variation seed, a run from a picture and FreeU
     * together; with s_t = 0 it leaves them as they are, with a scale it changes the result.
     */
    @Test
    void itActsBesideTheOtherRequestOptions() {
        GenerationRequest neighbours = request().steps(4).scheduler("dpmpp-2m").guidanceScale(4).guidanceRescale(0.7)
                .variation(new Variation(9, 0.3)).initImage(new InitImage(PipelineBehaviourTest.picture(Color.BLUE),
                        "start.png", 0.8)).build();
        try (MontagePipeline freeU = builder().setting("options.unet.freeu", "0.9,0.2,1.3,1.4").build()) {
            float[] plain = latents(freeU, neighbours);
            assertArrayEquals(plain, latents(freeU, neighbours.toBuilder().perturbedAttention(new PerturbedAttention(1,
                    1, List.of())).build()), (float) TestEngine.tolerance(2e-5, 4));
            assertFalse(Arrays.equals(plain, latents(freeU, neighbours.toBuilder().perturbedAttention(
                    PerturbedAttention.of(3)).build())));
        }
    }

    /** A pattern that no self-attention layer's name holds is refused, naming it with the layers there are. */
    @Test
    void aPatternThatFindsNoSelfAttentionLayerIsRefused() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> pipeline.generate(request()
                .steps(1).perturbedAttention(new PerturbedAttention(1, 0, List.of("mid", "attn2"))).build()));
        assertEquals("perturbedAttention.layers[1]", e.errors().get(0).field());
        assertEquals(1, e.errors().size());
        assertTrue(e.errors().get(0).message().startsWith("'attn2' is found in the name of no self-attention layer "
                + "of the denoiser ("), e.errors().get(0).message());
    }
}

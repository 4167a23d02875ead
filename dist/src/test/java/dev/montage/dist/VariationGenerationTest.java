package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.montage.api.GenerationRequest;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.SeedResize;
import dev.montage.api.Variation;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Variations of the starting noise in whole generations: their ends, the batch rule and what they cannot go with. */
class VariationGenerationTest {

    private static float[] latents(GenerationRequest r) {
        MontagePipeline pipeline = TinyModel.pipeline();
        Latents[] out = new Latents[1];
        pipeline.generate(r, ProgressListener.NONE, out);
        return out[0].values();
    }

    private static GenerationRequest.Builder request() {
        return GenerationRequest.builder("a dog").size(32, 32).steps(3).seed(5).guidanceScale(3).scheduler("euler");
    }

    /**
     * At strength 0 a variation is the seed's generation exactly, at 1 (with a sampler that adds no noise at its
     * steps) the variation seed's; in between it is neither; image b of a batch varies towards variation seed + b.
     */
    @Test
    void aVariationGoesFromTheSeedsGenerationToTheVariationSeeds() {
        float[] seed = latents(request().build());
        float[] other = latents(request().seed(9).build());
        assertArrayEquals(seed, latents(request().variation(new Variation(9, 0)).build()));
        assertArrayEquals(other, latents(request().variation(new Variation(9, 1)).build()), 1e-4f);
        float[] between = latents(request().variation(new Variation(9, 0.4)).build());
        assertFalse(Arrays.equals(seed, between) || Arrays.equals(other, between));
        float[] batch = latents(request().numImages(2).variation(new Variation(9, 0.4)).build());
        float[] second = latents(request().seed(6).variation(new Variation(10, 0.4)).build());
        float tolerance = (float) TestEngine.tolerance(1e-4, 1);
        assertArrayEquals(between, Arrays.copyOf(batch, between.length), tolerance);
        assertArrayEquals(second, Arrays.copyOfRange(batch, between.length, batch.length), tolerance);
    }

    /**
     * A run from a picture and a hires pass are noised with the varied noise too, as A1111 noises them: at strength 0
     * as without a variation, else otherwise.
     */
    @Test
    void aRunFromAPictureAndAHiresPassTakeTheVariedNoise() {
        for (GenerationRequest.Builder b : new GenerationRequest.Builder[] {request().initImage(new InitImage(
                PipelineBehaviourTest.picture(Color.GREEN), "start.png", 0.7)), request().hires(new Hires(48, 48, 0.7,
                        0, Hires.Upscaler.LATENT))}) {
            float[] plain = latents(b.variation(null).build());
            assertArrayEquals(plain, latents(b.variation(new Variation(9, 0)).build()));
            assertFalse(Arrays.equals(plain, latents(b.variation(new Variation(9, 0.5)).build())));
        }
    }

    /**
     * A seed resized from the request's own size is the seed's generation; from another size it is another
     * generation, and the same again; a hires pass and a run from a picture take the resized noise too.
     */
    @Test
    void aSeedResizedFromAnotherSizeDrawsItsNoiseThere() {
        float[] own = latents(request().size(48, 48).build());
        assertArrayEquals(own, latents(request().size(48, 48).seedResizeFrom(new SeedResize(48, 48)).build()));
        GenerationRequest resized = request().size(48, 48).seedResizeFrom(new SeedResize(32, 32)).build();
        float[] fromSmaller = latents(resized);
        assertFalse(Arrays.equals(own, fromSmaller));
        assertArrayEquals(fromSmaller, latents(resized));
        for (GenerationRequest.Builder b : new GenerationRequest.Builder[] {request().hires(new Hires(48, 48, 0.7, 0,
                Hires.Upscaler.LATENT)), request().initImage(new InitImage(PipelineBehaviourTest.picture(Color.GREEN),
                        "start.png", 0.7))}) {
            assertFalse(Arrays.equals(latents(b.build()), latents(b.seedResizeFrom(new SeedResize(16, 24)).build())));
        }
    }

    @Test
    void aVariationCannotVaryGivenStartingLatents() {
        InvalidRequestException refused = assertThrows(InvalidRequestException.class, () -> request()
                .variation(new Variation(9, 0.5)).initLatents(new Latents(new long[] {1, 4, 4, 4}, new float[64]))
                .build());
        assertEquals("variation", refused.errors().get(0).field());
    }
}

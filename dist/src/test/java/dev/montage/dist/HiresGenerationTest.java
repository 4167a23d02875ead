package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.AutoLayout;
import dev.montage.api.Box;
import dev.montage.api.Control;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Generations with a hires pass (A1111's hires fix): the second pass is a run from the first pass's result at the
 * larger size, its progress follows the first's, and what it cannot run is refused before anything runs.
 */
class HiresGenerationTest {
    private static MontagePipeline pipeline;

    @BeforeAll
    static void build() {
        pipeline = TestEngine.pipeline(ComponentRegistry.fromClasspath(HiresGenerationTest.class.getClassLoader()),
                TinyModel.folder()).setting("models.controlnets.canny", TinyModel.folder().resolve("controlnet"))
                .build();
    }

    @AfterAll
    static void close() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    private static GenerationRequest.Builder request() {
        return GenerationRequest.builder("a dog").size(32, 32).steps(6).seed(5).guidanceScale(3)
                .subject(Subject.of(PipelineBehaviourTest.picture(Color.RED), "dog.png", "dog", new Box(0, 0, 0.5, 1)));
    }

    private static float[] latents(GenerationRequest r) {
        Latents[] out = new Latents[1];
        pipeline.generate(r, ProgressListener.NONE, out);
        return out[0].values();
    }

    /**
     * With the Lanczos upscaler at the same size, the second pass is the run from the first pass's picture at the
     * hires strength, exactly: the same decoded picture, posterior noise, starting noise and steps.
     */
    @Test
    void aLanczosPassAtTheSameSizeIsTheRunFromTheFirstPassesPicture() {
        GenerationRequest plain = request().build();
        BufferedImage first = pipeline.generate(plain).images().get(0);
        float[] fromPicture = latents(plain.toBuilder().initImage(new InitImage(first, "first.png", 0.5)).build());
        float[] hires = latents(plain.toBuilder().hires(new Hires(32, 32, 0.5, 0, Hires.Upscaler.LANCZOS)).build());
        assertArrayEquals(fromPicture, hires);
    }

    /**
     * A pass with its own scheduler, settings, guidance or prompts is the run from the first pass's picture with them,
     * exactly, guided or unguided (which, dropping the unconditional rows, has the prompt encoded again); naming the
     * request's scheduler, guidance and prompts changes nothing.
     */
    @Test
    void aPassWithItsOwnSchedulerAndGuidanceIsTheRunFromTheFirstPassesPictureWithThem() {
        GenerationRequest plain = request().build();
        BufferedImage first = pipeline.generate(plain).images().get(0);
        Hires lanczos = new Hires(32, 32, 0.5, 0, Hires.Upscaler.LANCZOS);
        for (double guidance : new double[] {5, 1}) {
            Map<String, String> options = Map.of("use_exponential_sigmas", "true");
            float[] fromPicture = latents(plain.toBuilder().scheduler("dpmpp-2m-sde").schedulerOptions(options)
                    .guidanceScale(guidance).initImage(new InitImage(first, "first.png", 0.5)).build());
            float[] hires = latents(plain.toBuilder().hires(lanczos.withScheduler("dpmpp-2m-sde", options)
                    .withGuidance(guidance)).build());
            assertArrayEquals(fromPicture, hires, "guidance " + guidance);
        }
        for (double guidance : new double[] {3, 1}) {
            float[] fromPicture = latents(plain.toBuilder().prompt("a dog in the snow").negativePrompt("blurry")
                    .guidanceScale(guidance).initImage(new InitImage(first, "first.png", 0.5)).build());
            float[] hires = latents(plain.toBuilder().hires(lanczos.withPrompts("a dog in the snow", "blurry")
                    .withGuidance(guidance)).build());
            assertArrayEquals(fromPicture, hires, "prompts, guidance " + guidance);
        }
        GenerationRequest rescaled = plain.toBuilder().guidanceRescale(0.7).build();
        BufferedImage rescaledFirst = pipeline.generate(rescaled).images().get(0);
        assertArrayEquals(latents(rescaled.toBuilder().initImage(new InitImage(rescaledFirst, "first.png", 0.5))
                .build()), latents(rescaled.toBuilder().hires(lanczos).build()), "the rescale in both passes");
        latents(plain.toBuilder().guidanceRescale(0.7).hires(lanczos.withGuidance(1)).build());
        float[] same = latents(plain.toBuilder().hires(lanczos).build());
        assertArrayEquals(same, latents(plain.toBuilder().hires(lanczos.withPrompts(plain.prompt(),
                plain.negativePrompt())).build()), "the request's own prompts");
        assertArrayEquals(same, latents(plain.toBuilder().hires(lanczos.withScheduler("euler", Map.of())
                .withGuidance(plain.guidanceScale())).build()));
        assertFalse(Arrays.equals(same, latents(plain.toBuilder().hires(lanczos.withScheduler("euler",
                Map.of("timestep_spacing", "trailing"))).build())), "its settings apply");
    }

    /**
     * A second-order scheduler of the second pass counts its evaluations in the progress (6 Euler steps, then 2 of 4
     * Heun steps: 3 evaluations).
     */
    @Test
    void theProgressCountsTheSecondPassesOwnSchedulersEvaluations() {
        List<Integer> steps = new ArrayList<>();
        pipeline.generate(request().hires(new Hires(48, 48, 0.5, 4, Hires.Upscaler.LATENT).withScheduler("heun",
                Map.of())).build(), (step, total, elapsed) -> steps.add(step * 100 + total));
        assertEquals(List.of(109, 209, 309, 409, 509, 609, 709, 809, 909), steps);
    }

    /**
     * Twice the size with the latent upscaler: the images have the second pass's size, the progress counts the steps
     * of both passes (6, then 2 of 4 at strength 0.5) as one run, and the second pass's stages say so (it does not
     * encode the prompt again); the control picture reported is the second pass's, once.
     */
    @Test
    void theProgressCountsBothPassesAndTheImagesHaveTheSecondPassesSize() {
        List<String> events = new ArrayList<>();
        GenerationResult result = pipeline.generate(request().control(new Control("canny", PipelineBehaviourTest
                .picture(Color.WHITE), 0.5, 0, 1, Map.of())).hires(Hires.scaled(32, 32, 2, 0.5, 4,
                        Hires.Upscaler.LATENT)).build(), new ProgressListener() {
                            @Override
                            public boolean onStep(int step, int total, Duration elapsed) {
                                events.add(step + "/" + total);
                                return true;
                            }

                            @Override
                            public void onStage(String stage) {
                                events.add(stage);
                            }

                            @Override
                            public void onControlImage(int index, Control control, BufferedImage image) {
                                events.add("control " + index + " " + image.getWidth() + "x" + image.getHeight());
                            }
                        });
        assertEquals(List.of("preparing control images", "encoding prompt", "denoising", "1/8", "2/8", "3/8", "4/8",
                "5/8", "6/8", "upscaling", "hires preparing control images", "control 0 64x64", "hires denoising",
                "7/8", "8/8", "decoding"), events);
        assertEquals(List.of(64, 64), List.of(result.images().get(0).getWidth(), result.images().get(0).getHeight()));
    }

    /**
     * The strength, the upscaler and the second pass's steps each change the result, which differs from a one-pass run
     * at the larger size; the same request gives the same latents and nothing of it remains.
     */
    @Test
    void strengthUpscalerAndStepsDecideTheResult() {
        int before = TestEngine.manager().getManagedArrays().size();
        GenerationRequest latent = request().hires(new Hires(48, 48, 0.5, 0, Hires.Upscaler.LATENT)).build();
        float[] base = latents(latent);
        assertEquals(4 * 6 * 6, base.length);
        assertArrayEquals(base, latents(latent));
        assertEquals(before, TestEngine.manager().getManagedArrays().size(), "nothing of the generation remains");
        assertFalse(Arrays.equals(base, latents(request().hires(new Hires(48, 48, 0.8, 0, Hires.Upscaler.LATENT))
                .build())), "strength");
        for (Hires.Upscaler other : Hires.Upscaler.values()) {
            float[] enlarged = latents(request().hires(new Hires(48, 48, 0.5, 0, other)).build());
            // PyTorch's antialiased bilinear is its plain bilinear for an enlargement
            boolean same = other == Hires.Upscaler.LATENT || other == Hires.Upscaler.LATENT_ANTIALIASED;
            assertEquals(same, Arrays.equals(base, enlarged), "upscaler " + other.id());
        }
        assertFalse(Arrays.equals(base, latents(request().hires(new Hires(48, 48, 0.5, 8, Hires.Upscaler.LATENT))
                .build())), "steps");
        assertFalse(Arrays.equals(base, latents(request().size(48, 48).build())), "one pass at 48x48");
        latents(request().autoLayout(new AutoLayout(0.5, 2)).hires(new Hires(48, 48, 0.5, 0,
                Hires.Upscaler.LATENT)).build());
    }

    /** Image b of a batch with a hires pass is the generation of seed + b, with either upscaler. */
    @Test
    void aBatchsImagesAreTheGenerationsOfTheirSeeds() {
        for (Hires.Upscaler upscaler : Hires.Upscaler.values()) {
            GenerationRequest.Builder r = request().scheduler("euler-ancestral").hires(new Hires(40, 40, 0.6, 0,
                    upscaler));
            float[] batch = latents(r.numImages(2).build());
            float[] first = latents(r.numImages(1).build());
            float[] second = latents(r.seed(6).build());
            // equal but for the rounding of a batch of another size in the UNet, which in a reduced precision can
            // turn the first pass's pixels by a level
            float tolerance = (float) TestEngine.tolerance(1e-4, 1);
            assertArrayEquals(first, Arrays.copyOfRange(batch, 0, first.length), tolerance, upscaler.id());
            assertArrayEquals(second, Arrays.copyOfRange(batch, first.length, batch.length), tolerance,
                    upscaler.id());
        }
    }

    /**
     * A second pass smaller than the first, with a picture to start from, taking no step, or starting its auto layout
     * after its steps is refused, naming the field; so are sizes, strengths and upscalers out of range.
     */
    @Test
    void whatASecondPassCannotRunIsRefusedByName() {
        Hires twice = new Hires(64, 64, 0.5, 0, Hires.Upscaler.LATENT);
        assertEquals(List.of(new FieldError("hires", "must be at least the request's size 32x32, got 24x40")),
                assertThrows(InvalidRequestException.class, () -> request().hires(new Hires(24, 40, 0.5, 0,
                        Hires.Upscaler.LATENT)).build()).errors());
        assertEquals("hires", assertThrows(InvalidRequestException.class, () -> request().hires(twice)
                .initImage(new InitImage(PipelineBehaviourTest.picture(Color.GREEN), "start.png", 0.5)).build())
                .errors().get(0).field());
        assertEquals(List.of(new FieldError("hires.strength", "takes no step of the second pass's 6 at 0.1: it must "
                + "be at least 1/6")), assertThrows(InvalidRequestException.class, () -> request().hires(new Hires(64,
                        64, 0.1, 0, Hires.Upscaler.LATENT)).build()).errors());
        assertEquals(List.of(new FieldError("autoLayout.startStep", "must be < the steps the hires pass takes (3), "
                + "as the second pass lays its subjects out again, got 3")), assertThrows(
                        InvalidRequestException.class, () -> request().autoLayout(new AutoLayout(0.5, 3)).hires(twice)
                                .build()).errors());
        assertEquals(List.of(new FieldError("hires.scheduler", "unknown scheduler 'eulr'; did you mean euler?")),
                assertThrows(InvalidRequestException.class, () -> pipeline.generate(request().hires(twice
                        .withScheduler("eulr", Map.of())).build())).errors().stream().map(e -> new FieldError(e.field(),
                                e.message().substring(0, e.message().indexOf(',')))).toList());
        assertEquals("hires.schedulerOptions.eta", assertThrows(InvalidRequestException.class,
                () -> pipeline.generate(request().hires(twice.withScheduler("euler", Map.of("eta", "0.5"))).build()))
                .errors().get(0).field());
        assertEquals("schedulerOptions.eta", assertThrows(InvalidRequestException.class,
                () -> pipeline.generate(request().schedulerOptions(Map.of("eta", "0.5")).hires(twice).build()))
                .errors().get(0).field(), "the request's own settings go with its scheduler");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> twice.withScheduler(null, Map.of("eta", "0.5")))
                .getMessage().startsWith("hires.schedulerOptions needs hires.scheduler"));
        assertEquals("hires.guidance must be a finite number >= 1 (1 disables guidance), or 0 for the request's, got "
                + "0.5", assertThrows(IllegalArgumentException.class, () -> twice.withGuidance(0.5)).getMessage());
        assertEquals("hires.prompt must be at most 16384 characters, got 16385", assertThrows(
                IllegalArgumentException.class, () -> twice.withPrompts("a".repeat(16385), null)).getMessage());
        assertEquals("hires.width must be a positive multiple of 8, got 60", assertThrows(
                IllegalArgumentException.class, () -> new Hires(60, 64, 0.5, 0, Hires.Upscaler.LATENT)).getMessage());
        assertEquals("hires.scale must be in [1, 4], got 0.5", assertThrows(IllegalArgumentException.class,
                () -> Hires.scaled(32, 32, 0.5, 0.5, 0, Hires.Upscaler.LATENT)).getMessage());
        assertEquals("hires.upscaler 'ESRGAN_4x' is none of [latent, latent-nearest, latent-nearest-exact, "
                + "latent-antialiased, latent-bicubic, latent-bicubic-antialiased, lanczos] (A1111's [Latent, Latent "
                + "(nearest), Latent (nearest-exact), Latent (antialiased), Latent (bicubic), Latent (bicubic "
                + "antialiased), Lanczos])", assertThrows(IllegalArgumentException.class,
                        () -> Hires.Upscaler.of("ESRGAN_4x")).getMessage());
        assertEquals(Hires.Upscaler.LANCZOS, Hires.Upscaler.of("Lanczos"));
        assertEquals(Hires.Upscaler.LANCZOS, Hires.Upscaler.of("None"), "A1111's None resizes with Lanczos");
        assertEquals(Hires.Upscaler.LATENT_NEAREST_EXACT, Hires.Upscaler.of("Latent (nearest-exact)"));
        // A1111's int(width * scale), then whole latent cells
        assertEquals(new Hires(1736, 1304, 0.7, 0, Hires.Upscaler.LATENT), Hires.scaled(1024, 768, 1.7, 0.7, 0,
                Hires.Upscaler.LATENT));
    }
}

package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.montage.api.AutoLayout;
import dev.montage.api.Box;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.InitImage;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Generations from a picture (image-to-image): what a strength takes of the steps, the progress and stages they
 * report, the batch rule, and what is refused before anything runs.
 */
class ImageToImageGenerationTest {
    /** A third party's scheduler that cannot noise latents to a step's level (it keeps the SPI's default). */
    private static final String PLUGIN_SCHEDULER = "test-without-add-noise";
    private static MontagePipeline pipeline;

    @BeforeAll
    static void build() {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(
                ImageToImageGenerationTest.class.getClassLoader());
        ComponentFactory<Scheduler> euler = registry.factory(ComponentKind.SCHEDULER, "euler", Scheduler.class);
        registry.register(new ComponentFactory<Scheduler>() {
            @Override
            public String id() {
                return PLUGIN_SCHEDULER;
            }

            @Override
            public ComponentKind kind() {
                return ComponentKind.SCHEDULER;
            }

            @Override
            public Scheduler create(ComponentContext context) {
                Scheduler base = euler.create(context);
                return (steps, state) -> {
                    Scheduler.Run run = base.start(steps, state);
                    return new Scheduler.Run() {
                        @Override
                        public float[] timesteps() {
                            return run.timesteps();
                        }

                        @Override
                        public float initNoiseSigma() {
                            return run.initNoiseSigma();
                        }

                        @Override
                        public NDArray scaleModelInput(NDArray latents, int index) {
                            return run.scaleModelInput(latents, index);
                        }

                        @Override
                        public NDArray step(NDArray modelOutput, int index, NDArray latents) {
                            return run.step(modelOutput, index, latents);
                        }
                    };
                };
            }
        }, "test-plugin");
        pipeline = TestEngine.pipeline(registry, TinyModel.folder()).build();
    }

    @AfterAll
    static void close() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    private static BufferedImage picture(Color color) {
        return PipelineBehaviourTest.picture(color);
    }

    private static GenerationRequest.Builder request(double strength) {
        return GenerationRequest.builder("a dog").size(32, 32).steps(10).seed(5).guidanceScale(3)
                .subject(Subject.of(picture(Color.RED), "dog.png", "dog", new Box(0, 0, 0.5, 1)))
                .initImage(new InitImage(picture(Color.GREEN), "start.png", strength));
    }

    private static float[] latents(GenerationRequest r) {
        Latents[] out = new Latents[1];
        pipeline.generate(r, ProgressListener.NONE, out);
        return out[0].values();
    }

    /**
     * Of 10 steps a strength of 0.35 takes the last 3 (Heun: their 5 evaluations), which the progress counts; the
     * picture is encoded before the prompt.
     */
    @Test
    void theProgressCountsTheStepsTakenAndThePictureIsEncodedFirst() {
        for (String scheduler : List.of("euler", "heun", "dpmpp-2m")) {
            List<String> events = new ArrayList<>();
            pipeline.generate(request(0.35).scheduler(scheduler).build(), new ProgressListener() {
                @Override
                public boolean onStep(int step, int total, Duration elapsed) {
                    events.add(step + "/" + total);
                    return true;
                }

                @Override
                public void onStage(String stage) {
                    events.add(stage);
                }
            });
            List<String> steps = scheduler.equals("heun") ? List.of("1/5", "2/5", "3/5", "4/5", "5/5")
                    : List.of("1/3", "2/3", "3/3");
            List<String> expected = new ArrayList<>(List.of("encoding init image", "encoding prompt", "denoising"));
            expected.addAll(steps);
            expected.add("decoding");
            assertEquals(expected, events, scheduler);
        }
    }

    /** The strength, the picture and the seed each change the result; the same request gives the same latents. */
    @Test
    void strengthPictureAndSeedDecideTheResult() {
        float[] base = latents(request(0.5).build());
        assertArrayEquals(base, latents(request(0.5).build()));
        assertFalse(Arrays.equals(base, latents(request(0.8).build())), "strength");
        assertFalse(Arrays.equals(base, latents(request(0.5).seed(6).build())), "seed");
        assertFalse(Arrays.equals(base, latents(request(0.5).initImage(new InitImage(picture(Color.BLUE),
                "other.png", 0.5)).build())), "picture");
        assertFalse(Arrays.equals(latents(request(1).build()), latents(request(1).initImage(null).build())),
                "at strength 1 the run takes every step, from the picture noised to the first step's level");
    }

    /** A 32 × 32 picture of two halves, left and right. */
    static BufferedImage halves(Color left, Color right) {
        BufferedImage image = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(left);
        g.fillRect(0, 0, 16, 32);
        g.setColor(right);
        g.fillRect(16, 0, 16, 32);
        g.dispose();
        return image;
    }

    private static GenerationRequest masked(double strength, Color left, Color right) {
        GenerationRequest plain = request(strength).build();
        return plain.toBuilder().initImage(plain.initImage().orElseThrow().withMask(halves(left, right), "mask.png"))
                .build();
    }

    /**
     * Inpainting as diffusers runs it with a UNet of four input channels: a white mask repaints everywhere, as the run
     * without a mask does (at strength 1 from noise, as a run without a picture does); a black one keeps the picture,
     * whatever the prompt; a mask of halves keeps the picture in one half and repaints the other.
     */
    @Test
    void aMaskRepaintsItsWhiteAreaAndKeepsThePictureElsewhere() {
        assertArrayEquals(latents(request(0.5).build()), latents(masked(0.5, Color.WHITE, Color.WHITE)),
                "a white mask at strength 0.5 is the run without a mask");
        assertArrayEquals(latents(request(1).initImage(null).build()), latents(masked(1, Color.WHITE, Color.WHITE)),
                "a white mask at strength 1 starts from noise");
        float[] kept = latents(masked(0.5, Color.BLACK, Color.BLACK));
        GenerationRequest black = masked(0.5, Color.BLACK, Color.BLACK);
        assertArrayEquals(kept, latents(GenerationRequest.builder("a cat").size(32, 32).steps(10).seed(5)
                .guidanceScale(7).initImage(black.initImage().orElseThrow()).build()),
                "a black mask keeps the picture's latents, whatever the prompt");
        float[] halves = latents(masked(0.8, Color.BLACK, Color.WHITE));
        float[] repainted = latents(request(0.8).build());
        int w = 4;
        for (int i = 0; i < halves.length; i++) {
            boolean left = i % w < w / 2;
            if (left) {
                assertEquals(kept[i], halves[i], "kept cell " + i);
            }
        }
        assertFalse(Arrays.equals(halves, kept) || Arrays.equals(halves, repainted), "the right half is repainted");
    }

    /** Image b of a batch from a picture is the generation of seed + b, its posterior sample and noise included. */
    @Test
    void aBatchsImagesAreTheGenerationsOfTheirSeeds() {
        for (String scheduler : List.of("euler-ancestral", "dpmpp-sde")) {
            float[] batch = latents(request(0.6).scheduler(scheduler).numImages(2).build());
            float[] second = latents(request(0.6).scheduler(scheduler).seed(6).build());
            float[] first = latents(request(0.6).scheduler(scheduler).build());
            // equal but for the rounding of a batch of another size in the UNet (a few 1e-6)
            assertArrayEquals(first, Arrays.copyOfRange(batch, 0, first.length), 1e-4f, scheduler);
            assertArrayEquals(second, Arrays.copyOfRange(batch, first.length, batch.length), 1e-4f, scheduler);
            assertFalse(Arrays.equals(first, second), scheduler + ": each image its own posterior sample and noise");
        }
    }

    /**
     * A strength that takes no step, an init image with initial latents, an auto layout that would start after the
     * steps taken, and a scheduler that cannot noise a picture's latents are refused, naming the field; nothing of a
     * refused generation remains.
     */
    @Test
    void whatCannotRunFromAPictureIsRefusedByName() {
        InvalidRequestException none = assertThrows(InvalidRequestException.class, () -> request(0.05).build());
        assertEquals(List.of(new FieldError("initImage.strength", "takes no step of 10 at 0.05: it must be at least "
                + "1/10 (0.1)")), none.errors());
        InvalidRequestException both = assertThrows(InvalidRequestException.class, () -> request(0.5)
                .initLatents(new Latents(new long[] {1, 4, 4, 4}, new float[64])).build());
        assertEquals("initLatents", both.errors().get(0).field());
        InvalidRequestException layout = assertThrows(InvalidRequestException.class, () -> request(0.3)
                .autoLayout(new AutoLayout(0.5, 3)).build());
        assertEquals(List.of(new FieldError("autoLayout.startStep", "must be < the steps taken from the init image "
                + "(3), got 3")), layout.errors());
        request(0.3).autoLayout(new AutoLayout(0.5, 2)).build();

        int before = TestEngine.manager().getManagedArrays().size();
        GenerationRequest plugin = request(0.5).scheduler(PLUGIN_SCHEDULER).build();
        InvalidRequestException refused = assertThrows(InvalidRequestException.class,
                () -> pipeline.generate(plugin, ProgressListener.NONE));
        assertEquals(List.of(new FieldError("scheduler", "'" + PLUGIN_SCHEDULER + "': this sampler cannot start "
                + "from a picture: it does not noise latents to a step's level, so it cannot take an initImage")),
                refused.errors());
        assertEquals(before, TestEngine.manager().getManagedArrays().size(), "nothing of the refused run remains");
        assertTrue(latents(plugin.toBuilder().initImage(null).build()).length > 0, "the scheduler runs from noise");
    }
}

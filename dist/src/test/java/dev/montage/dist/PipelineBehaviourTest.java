package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.AutoLayout;
import dev.montage.api.Box;
import dev.montage.api.GenerationCancelledException;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TensorDType;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Behaviour of whole generations on Montage's own tiny random model (written by the test). */
class PipelineBehaviourTest {
    @TempDir
    static Path dir;
    private static MontagePipeline pipeline;

    @BeforeAll
    static void build() throws Exception {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(PipelineBehaviourTest.class.getClassLoader());
        RandomModel.write(dir, "tiny", TensorDType.F32, 7, registry);
        pipeline = TestEngine.pipeline(registry, dir).build();
    }

    @AfterAll
    static void close() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    static BufferedImage picture(Color color) {
        BufferedImage image = new BufferedImage(40, 40, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(color);
        g.fillOval(5, 5, 30, 30);
        g.dispose();
        return image;
    }

    private static GenerationRequest.Builder request(int subjects) {
        GenerationRequest.Builder b = GenerationRequest.builder("a dog and a cat and a ball and a cube")
                .size(64, 64).steps(3).seed(11);
        String[] phrases = {"dog", "cat", "ball", "cube"};
        Color[] colors = {Color.RED, Color.BLUE, Color.GREEN, Color.ORANGE};
        for (int i = 0; i < subjects; i++) {
            b.subject(Subject.of(picture(colors[i]), phrases[i] + ".png", phrases[i],
                    new Box(i * 0.25, 0.2, i * 0.25 + 0.25, 0.8)));
        }
        return b;
    }

    private static float[] latents(GenerationRequest r) {
        Latents[] out = new Latents[1];
        pipeline.generate(r, ProgressListener.NONE, out);
        return out[0].values();
    }

    @Test
    void sameRequestSamePixels() {
        GenerationRequest r = request(2).build();
        GenerationResult a = pipeline.generate(r, ProgressListener.NONE);
        GenerationResult b = pipeline.generate(r, ProgressListener.NONE);
        assertArrayEquals(pixels(a.images().get(0)), pixels(b.images().get(0)));
        assertFalse(java.util.Arrays.equals(latents(r), latents(r.toBuilder().seed(12).build())));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 4})
    void zeroToFourSubjects(int subjects) {
        GenerationResult result = pipeline.generate(request(subjects).build(), ProgressListener.NONE);
        assertEquals(64, result.images().get(0).getWidth());
    }

    @Test
    void nonSquareSizesFollowTheRequest() {
        GenerationResult result = pipeline.generate(request(2).size(96, 64).build(), ProgressListener.NONE);
        assertEquals(96, result.images().get(0).getWidth());
        assertEquals(64, result.images().get(0).getHeight());
    }

    @Test
    void scalesDropGroundingAndZeroBoxesChangeTheResult() {
        GenerationRequest base = request(2).build();
        float[] reference = latents(base);
        List<Subject> scaled = new ArrayList<>(base.subjects());
        scaled.set(1, scaled.get(1).withScale(1.5));
        assertFalse(java.util.Arrays.equals(reference, latents(base.toBuilder().subjects(scaled).build())));
        List<Subject> dropped = new ArrayList<>(base.subjects());
        dropped.set(0, dropped.get(0).withDropGrounding(true));
        assertFalse(java.util.Arrays.equals(reference, latents(base.toBuilder().subjects(dropped).build())));
        assertFalse(java.util.Arrays.equals(reference, latents(unboxed(base.toBuilder()).build())));
        // at scale 0 the pictures have no influence at all: other pictures give the very same latents
        List<Subject> swapped = new ArrayList<>();
        base.subjects().forEach(s -> swapped.add(Subject.of(picture(Color.WHITE), "white.png", s.phrase(), s.box())));
        assertArrayEquals(latents(base.toBuilder().imageScale(0).build()),
                latents(base.toBuilder().subjects(swapped).imageScale(0).build()));
    }

    @Test
    void withoutGuidanceThereIsNoUnconditionalPass() {
        GenerationResult result = pipeline.generate(request(1).guidanceScale(1).build(), ProgressListener.NONE);
        assertEquals(1, result.images().size());
    }

    @Test
    void autoLayoutRunsFromItsStartStep() {
        GenerationResult result = pipeline.generate(request(2).steps(4).autoLayout(new AutoLayout(0.5, 2)).build(),
                ProgressListener.NONE);
        // the masks derived from attention maps replace the boxes, so the result moves away from fixed boxes
        GenerationRequest fixed = request(2).steps(4).build();
        assertFalse(java.util.Arrays.equals(latents(fixed),
                latents(fixed.toBuilder().autoLayout(new AutoLayout(0.5, 1)).build())));
    }

    /** The request's subjects with every box zero (no layout prior). */
    private static GenerationRequest.Builder unboxed(GenerationRequest.Builder b) {
        GenerationRequest r = b.build();
        List<Subject> subjects = new ArrayList<>();
        r.subjects().forEach(s -> subjects.add(new Subject(s.image(), s.imageName(), s.phrase(), Box.NONE, s.scale(),
                s.dropGrounding())));
        return r.toBuilder().subjects(subjects);
    }

    @ParameterizedTest(name = "zero boxes {0}, guidance {1}")
    @CsvSource({"false,5", "true,5", "false,1", "true,1"})
    void autoLayoutActsWithZeroAndNonZeroBoxesWithAndWithoutGuidance(boolean zeroBoxes, double guidance) {
        GenerationRequest.Builder fixed = request(2).steps(4).guidanceScale(guidance);
        if (zeroBoxes) {
            fixed = unboxed(fixed);
        }
        GenerationRequest boxesOnly = fixed.build();
        GenerationRequest auto = fixed.autoLayout(new AutoLayout(0.5, 1)).build();
        float[] withBoxes = latents(boxesOnly);
        float[] derived = latents(auto);
        assertFalse(java.util.Arrays.equals(withBoxes, derived),
                "masks derived from the attention maps replace the boxes from the second call on");
        assertArrayEquals(derived, latents(auto), "auto layout is deterministic");
    }

    @Test
    void cancellationStopsBetweenStepsAndLeavesNothingBehind() {
        int before = TestEngine.manager().getManagedArrays().size();
        List<Integer> seen = new ArrayList<>();
        ProgressListener stopAfterTwo = (step, total, elapsed) -> {
            seen.add(step);
            return step < 2;
        };
        assertThrows(GenerationCancelledException.class, () -> pipeline.generate(request(2).steps(5).build(), stopAfterTwo));
        assertEquals(List.of(1, 2), seen);
        assertEquals(before, TestEngine.manager().getManagedArrays().size());
    }

    @Test
    void memoryStaysFlatOverFiftySteps() {
        List<Integer> live = new ArrayList<>();
        ProgressListener count = (step, total, elapsed) -> {
            live.add(TestEngine.manager().getManagedArrays().size());
            return true;
        };
        int before = TestEngine.manager().getManagedArrays().size();
        pipeline.generate(request(2).steps(50).size(32, 32).build(), count);
        assertEquals(50, live.size());
        // after the first step (lazy per-generation caches), the number of live arrays never grows
        assertEquals(1, live.subList(1, 50).stream().distinct().count(), live::toString);
        assertEquals(before, TestEngine.manager().getManagedArrays().size());
    }

    static int[] pixels(BufferedImage image) {
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }
}

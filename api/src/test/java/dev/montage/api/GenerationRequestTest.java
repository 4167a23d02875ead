package dev.montage.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class GenerationRequestTest {

    private static final BufferedImage IMAGE = new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB);

    @Test
    void defaultsFollowMsDiffusionInference() {
        GenerationRequest r = GenerationRequest.builder("a dog").build();
        assertEquals(1024, r.width());
        assertEquals(30, r.steps());
        assertEquals(7.5, r.guidanceScale());
        assertEquals(0.6, r.imageScale());
        assertEquals(GenerationRequest.DEFAULT_NEGATIVE_PROMPT, r.negativePrompt());
        assertTrue(r.guidanceEnabled());
        assertFalse(r.toBuilder().guidanceScale(1).build().guidanceEnabled());
    }

    @Test
    void reportsEveryInvalidFieldAtOnce() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> GenerationRequest.builder(null)
                .size(100, 0).steps(0).guidanceScale(0.5).imageScale(-1).numImages(0).scheduler(" ").build());
        Map<String, String> byField =
                e.errors().stream().collect(Collectors.toMap(FieldError::field, FieldError::message));
        assertEquals(List.of("prompt", "width", "height", "steps", "guidanceScale", "imageScale", "numImages",
                "scheduler"), e.errors().stream().map(FieldError::field).toList());
        assertTrue(byField.get("width").contains("multiple of 8, got 100"));
        assertTrue(e.getMessage().contains("steps: must be > 0, got 0"), e.getMessage());
    }

    @Test
    void textsAreBoundedAndTheLimitsNamed() {
        String longest = "a".repeat(GenerationRequest.MAX_TEXT_LENGTH);
        GenerationRequest.builder(longest).negativePrompt(longest)
                .subject(Subject.of(IMAGE, "dog.png", "d".repeat(GenerationRequest.MAX_PHRASE_LENGTH), Box.NONE))
                .build();
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> GenerationRequest
                .builder(longest + "a").negativePrompt(longest + "b")
                .subject(Subject.of(IMAGE, "dog.png", "d".repeat(GenerationRequest.MAX_PHRASE_LENGTH + 1), Box.NONE))
                .build());
        Map<String, String> byField =
                e.errors().stream().collect(Collectors.toMap(FieldError::field, FieldError::message));
        assertEquals("must be at most 16384 characters, got 16385", byField.get("prompt"));
        assertEquals("must be at most 16384 characters, got 16385", byField.get("negativePrompt"));
        assertEquals("must be at most 1024 characters, got 1025", byField.get("subjects[0].phrase"));
    }

    @Test
    void autoLayoutMustStartBeforeTheLastStep() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> GenerationRequest.builder("x").steps(4).autoLayout(new AutoLayout(0.5, 4)).build());
        assertEquals("autoLayout.startStep", e.errors().get(0).field());
        IllegalArgumentException t = assertThrows(IllegalArgumentException.class, () -> new AutoLayout(1.2, 0));
        assertTrue(t.getMessage().contains("autoLayout.threshold"));
    }

    @Test
    void subjectScalesFallBackToTheGlobalScale() {
        GenerationRequest r = GenerationRequest.builder("a dog and a cat")
                .subject(Subject.of(IMAGE, "dog.png", "dog", new Box(0, 0, 0.5, 1)).withScale(0.9))
                .subject(Subject.of(IMAGE, "cat.png", "cat", new Box(0.5, 0, 1, 1)))
                .imageScale(0.4)
                .build();
        assertArrayEquals(new double[] {0.9, 0.4}, r.subjectScales());
    }

    @Test
    void subjectValidationNamesTheField() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Subject.of(IMAGE, "d.png", " ", Box.NONE))
                .getMessage().contains("subject.phrase"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Subject.of(null, "d.png", "dog", Box.NONE))
                .getMessage().contains("subject.image"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Subject.of(IMAGE, "d.png", "dog", Box.NONE).withScale(-0.1)).getMessage().contains("subject.scale"));
    }

    @Test
    void controlValidationNamesTheField() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Control("canny", IMAGE, 1, 0.6, 0.4, null))
                .getMessage().contains("control.start must be < control.end"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Control("canny", IMAGE, 1, 0, 1.2, null))
                .getMessage().contains("control.end must be in 0..1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Control.of("", IMAGE, 1))
                .getMessage().contains("control.type"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Control.of("depth", IMAGE, Double.NaN))
                .getMessage().contains("control.scale"));
        assertEquals(Map.of(), Control.of("depth", IMAGE, 0.5).options());
    }

    @Test
    void schedulerOptionsAreKeptInOrderAndCheckedForNames() {
        GenerationRequest r = GenerationRequest.builder("a dog").scheduler("ddim").schedulerOption("eta", "0.5")
                .schedulerOption("timestep_spacing", "trailing").build();
        assertEquals(List.of("eta", "timestep_spacing"), List.copyOf(r.schedulerOptions().keySet()));
        assertEquals(r, r.toBuilder().build());
        assertEquals(Map.of("timestep_spacing", "trailing"), r.toBuilder().schedulerOption("eta", null).build()
                .schedulerOptions());
        assertThrows(UnsupportedOperationException.class, () -> r.schedulerOptions().put("eta", "1"));
        InvalidRequestException blank = assertThrows(InvalidRequestException.class,
                () -> GenerationRequest.builder("a dog").schedulerOption(" ", "1").build());
        assertEquals(List.of(new FieldError("schedulerOptions", "must name each setting, got a blank name")),
                blank.errors());
        Map<String, String> withNull = new HashMap<>();
        withNull.put("eta", null);
        assertEquals(List.of(new FieldError("schedulerOptions.eta", "has no value")),
                assertThrows(InvalidRequestException.class, () -> new GenerationRequest("a dog", "", null, null, 8, 8,
                        1, 1, 0, 0, 1, Optional.empty(), withNull, null, null)).errors());
        GenerationRequest older = new GenerationRequest("a dog", "", null, null, 8, 8, 1, 1, 0, 0, 1,
                Optional.of("ddim"), Optional.empty(), Optional.empty());
        assertEquals(Map.of(), older.schedulerOptions(), "the constructor without scheduler options");
        GenerationRequest withoutPasses = new GenerationRequest("a dog", "", null, null, 8, 8, 1, 1, 0, 0, 1,
                Optional.empty(), Map.of(), Optional.empty(), Optional.empty(), Optional.empty());
        assertEquals(List.of(Optional.empty(), Optional.empty()), List.of(withoutPasses.hires(),
                withoutPasses.variation()), "the constructor without a hires pass or a variation");
        assertEquals(withoutPasses, withoutPasses.toBuilder().build());
        GenerationRequest both = withoutPasses.toBuilder().hires(new Hires(16, 16, 0.5, 2, Hires.Upscaler.LATENT))
                .variation(new Variation(3, 0.5)).build();
        assertEquals(both, both.toBuilder().build(), "the builder keeps the hires pass and the variation");
        GenerationRequest beforeRescale = new GenerationRequest("a dog", "", null, null, 8, 8, 1, 2, 0, 0, 1,
                Optional.empty(), Map.of(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty());
        assertEquals(0, beforeRescale.guidanceRescale(), "the constructor without guidance rescale");
        GenerationRequest rescaled = beforeRescale.toBuilder().guidanceRescale(0.7).build();
        assertEquals(0.7, rescaled.toBuilder().build().guidanceRescale(), "the builder keeps it");
    }

    /** Guidance rescale is a share in [0, 1], and rescales guidance, which a scale of 1 turns off. */
    @Test
    void guidanceRescaleIsAShareOfGuidance() {
        assertEquals(List.of(new FieldError("guidanceRescale", "must be in [0, 1] (0 for none), got 1.5")),
                assertThrows(InvalidRequestException.class, () -> GenerationRequest.builder("a dog")
                        .guidanceRescale(1.5).build()).errors());
        assertEquals(List.of(new FieldError("guidanceRescale", "rescales classifier-free guidance, which "
                + "guidanceScale 1 turns off")), assertThrows(InvalidRequestException.class, () -> GenerationRequest
                        .builder("a dog").guidanceScale(1).guidanceRescale(0.5).build()).errors());
        assertEquals(0.5, GenerationRequest.builder("a dog").guidanceRescale(0.5).build().guidanceRescale());
    }
}

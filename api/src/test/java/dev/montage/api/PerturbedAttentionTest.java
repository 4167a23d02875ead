package dev.montage.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class PerturbedAttentionTest {

    /** diffusers' {@code _get_pag_scale}: the scale less adaptiveScale per timestep below 1000, never below 0. */
    @Test
    void theAdaptiveScaleShrinksTheScaleTowardsTheLastTimesteps() {
        PerturbedAttention constant = PerturbedAttention.of(3);
        assertEquals(3, constant.scaleAt(999));
        assertEquals(3, constant.scaleAt(1));
        PerturbedAttention adaptive = new PerturbedAttention(3, 0.01, List.of());
        assertEquals(3 - 0.01 * 1, adaptive.scaleAt(999), 1e-12);
        assertEquals(3 - 0.01 * 250.5, adaptive.scaleAt(749.5), 1e-12);
        assertEquals(0, adaptive.scaleAt(600), "3 − 0.01 · 400 < 0");
        assertEquals(0, adaptive.scaleAt(0));
    }

    /** Layers are regular expressions found in the dotted names; none given means diffusers' "mid". */
    @Test
    void layersArePatternsFoundInTheNames() {
        PerturbedAttention mid = PerturbedAttention.of(1);
        assertEquals(List.of("mid"), mid.layers());
        assertTrue(mid.perturbs("mid_block.attentions.0.transformer_blocks.3.attn1"));
        assertFalse(mid.perturbs("down_blocks.2.attentions.0.transformer_blocks.0.attn1"));
        PerturbedAttention some = new PerturbedAttention(1, 0, List.of("down_blocks\\.2", "up_blocks.0.attentions.1"));
        assertTrue(some.perturbs("down_blocks.2.attentions.1.transformer_blocks.0.attn1"));
        assertTrue(some.perturbs("up_blocks.0.attentions.1.transformer_blocks.9.attn1"));
        assertFalse(some.perturbs("up_blocks.0.attentions.0.transformer_blocks.9.attn1"));
    }

    @Test
    void badSettingsAreNamed() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> new PerturbedAttention(0, -1,
                Arrays.asList("mid(", " ", null)));
        assertEquals(List.of("perturbedAttention.scale", "perturbedAttention.adaptiveScale",
                "perturbedAttention.layers[0]", "perturbedAttention.layers[1]", "perturbedAttention.layers[2]"),
                e.errors().stream().map(FieldError::field).toList());
        assertEquals("must be a finite number > 0, got 0.0", e.errors().get(0).message());
        assertTrue(e.errors().get(2).message().startsWith("is not a regular expression: Unclosed group"),
                e.errors().get(2).message());
        assertThrows(InvalidRequestException.class, () -> PerturbedAttention.of(Double.NaN));
        assertThrows(InvalidRequestException.class, () -> new PerturbedAttention(1, Double.POSITIVE_INFINITY,
                List.of()));
    }

    /**
     * A pattern that backtracks without end on a name is stopped and named, as are too many or too long patterns
     * (the server takes them from clients).
     */
    @Test
    void costlyPatternsAreRefused() {
        PerturbedAttention nested = new PerturbedAttention(1, 0, List.of("mid", "(.*a){12}x"));
        String name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.attn1";
        assertFalse(nested.finds(0, name));
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> nested.finds(1, name));
        assertEquals("perturbedAttention.layers[1]", e.errors().get(0).field());
        assertTrue(e.errors().get(0).message().startsWith("'(.*a){12}x' backtracks past 1000000 character reads"),
                e.errors().get(0).message());
        assertThrows(InvalidRequestException.class, () -> nested.perturbs(name));
        assertEquals(List.of(new FieldError("perturbedAttention.layers", "must be at most 256 patterns, got 257")),
                assertThrows(InvalidRequestException.class, () -> new PerturbedAttention(1, 0, Collections
                        .nCopies(257, "mid"))).errors());
        assertEquals("perturbedAttention.layers[0]", assertThrows(InvalidRequestException.class,
                () -> new PerturbedAttention(1, 0, List.of("m".repeat(257)))).errors().get(0).field());
    }

    /** A request keeps its guidance through the builder; the constructor of API 0.2.8 has none. */
    @Test
    void aRequestCarriesIt() {
        GenerationRequest before = new GenerationRequest("a dog", "", null, null, 8, 8, 1, 1, 0, 0, 1,
                Optional.empty(), Map.of(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), 0);
        assertEquals(Optional.empty(), before.perturbedAttention());
        PerturbedAttention pag = new PerturbedAttention(2, 0.001, List.of("up"));
        GenerationRequest guided = before.toBuilder().perturbedAttention(pag).build();
        assertEquals(Optional.of(pag), guided.toBuilder().build().perturbedAttention(), "without CFG too");
        assertEquals(Optional.empty(), guided.toBuilder().perturbedAttention(null).build().perturbedAttention());
    }
}

package dev.montage.dist.record;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.montage.api.GenerationRequest;
import dev.montage.api.Hires;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A1111's text of a record's hires pass: a scale where one gives its size, else the size. */
class GenerationRecordTest {

    private static Map<String, String> a1111(Hires hires) {
        GenerationRequest r = GenerationRequest.builder("a dog").size(64, 48).steps(4).hires(hires).build();
        return GenerationRecord.a1111(r, Map.of()).values();
    }

    @Test
    void aHiresPassIsWrittenByItsScaleOrItsSize() {
        assertEquals("1.5", a1111(new Hires(96, 72, 0.5, 0, Hires.Upscaler.LATENT)).get("Hires upscale"));
        Map<String, String> wider = a1111(new Hires(128, 48, 0.5, 0, Hires.Upscaler.LATENT));
        assertEquals("128x48", wider.get("Hires resize"));
        assertFalse(wider.containsKey("Hires upscale"));
        // five times the width: beyond A1111's scales, so its size
        assertEquals("320x240", a1111(new Hires(320, 240, 0.5, 0, Hires.Upscaler.LATENT)).get("Hires resize"));
    }
}

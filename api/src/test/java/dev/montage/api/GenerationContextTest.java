package dev.montage.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GenerationContextTest {

    @SuppressWarnings("rawtypes")
    private static final GenerationContext.Key<List> MAPS = GenerationContext.Key.of("maps", List.class);

    @Test
    void keepsStatePerGeneration() {
        GenerationRequest request = GenerationRequest.builder("x").steps(3).build();
        GenerationContext a = new GenerationContext(request);
        GenerationContext b = new GenerationContext(request);
        List<?> list = a.computeIfAbsent(MAPS, ArrayList::new);
        assertSame(list, a.get(MAPS));
        assertNull(b.get(MAPS));
        a.put(MAPS, null);
        assertNull(a.get(MAPS));
    }

    @Test
    void stepsStayInRange() {
        GenerationContext c = new GenerationContext(GenerationRequest.builder("x").steps(3).build());
        c.setStep(2, 3);
        assertEquals(2, c.step());
        assertThrows(IllegalArgumentException.class, () -> c.setStep(3, 3));
    }
}

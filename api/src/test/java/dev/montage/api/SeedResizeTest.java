package dev.montage.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SeedResizeTest {

    @Test
    void sidesArePositiveMultiplesOfEight() {
        assertEquals(512, new SeedResize(512, 768).width());
        for (int[] bad : new int[][] {{0, 512}, {512, -8}, {500, 512}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SeedResize(bad[0],
                    bad[1]));
            assertEquals("seedResizeFrom must be a size of positive multiples of 8, got " + bad[0] + "x" + bad[1],
                    e.getMessage());
        }
    }

    /** A request keeps it through its builder; with starting latents, which replace the noise it draws, it is refused. */
    @Test
    void aRequestCarriesItExceptWithInitLatents() {
        GenerationRequest r = GenerationRequest.builder("a dog").size(64, 64).seedResizeFrom(new SeedResize(32, 32))
                .build();
        assertEquals(Optional.of(new SeedResize(32, 32)), r.toBuilder().build().seedResizeFrom());
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> r.toBuilder().initLatents(
                new Latents(new long[] {1, 4, 8, 8}, new float[256])).build());
        assertEquals(List.of("seedResizeFrom"), e.errors().stream().map(FieldError::field).toList());
    }
}

package dev.montage.dist.record;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.montage.dist.record.Samplers.Sampler;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A1111's names of the built-in schedulers, as its readers recognise them. */
class SamplersTest {
    @Test
    void eachBuiltInSchedulerHasA1111sNameAndAPluginsKeepsItsId() {
        assertEquals(new Sampler("Euler", Optional.empty()), Samplers.of("euler"));
        assertEquals(new Sampler("Euler", Optional.of("Karras")), Samplers.of("euler-karras"));
        assertEquals(new Sampler("Euler a", Optional.empty()), Samplers.of("euler-ancestral"));
        assertEquals(new Sampler("DDIM", Optional.empty(), Optional.of("Eta DDIM")), Samplers.of("ddim"));
        assertEquals(new Sampler("DPM++ 2M", Optional.of("Uniform")), Samplers.of("dpmpp-2m"));
        assertEquals(new Sampler("DPM++ 2M", Optional.of("Karras")), Samplers.of("dpmpp-2m-karras"));
        assertEquals(new Sampler("DPM++ 2M SDE", Optional.of("Uniform")), Samplers.of("dpmpp-2m-sde"));
        assertEquals(new Sampler("DPM++ 2M SDE", Optional.of("Karras")), Samplers.of("dpmpp-2m-sde-karras"));
        assertEquals(new Sampler("LCM", Optional.empty()), Samplers.of("lcm"));
        assertEquals(new Sampler("UniPC", Optional.empty()), Samplers.of("unipc"));
        assertEquals(new Sampler("my-sampler", Optional.empty()), Samplers.of("my-sampler"));
    }
}

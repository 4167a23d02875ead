package dev.montage.dist.record;

import java.util.Map;
import java.util.Optional;

/** The names AUTOMATIC1111 gives the built-in schedulers, so its readers recognise the sampler of a Montage PNG. */
final class Samplers {
    /**
     * A sampler as A1111 names it.
     *
     * @param name         its sampler menu's name
     * @param scheduleType its noise schedule where the sampler's own default is another one
     * @param etaName      the name A1111 records the sampler's η under ({@code options.scheduler.eta}), if it has one
     */
    record Sampler(String name, Optional<String> scheduleType, Optional<String> etaName) {
        Sampler(String name, Optional<String> scheduleType) {
            this(name, scheduleType, Optional.empty());
        }
    }

    private static final Map<String, Sampler> BUILT_IN = Map.of(
            "euler", new Sampler("Euler", Optional.empty()),
            "euler-karras", new Sampler("Euler", Optional.of("Karras")),
            "euler-ancestral", new Sampler("Euler a", Optional.empty()),
            "ddim", new Sampler("DDIM", Optional.empty(), Optional.of("Eta DDIM")),
            // A1111's DPM++ 2M defaults to Karras sigmas: the plain schedule is "Uniform" there
            "dpmpp-2m", new Sampler("DPM++ 2M", Optional.of("Uniform")),
            "dpmpp-2m-karras", new Sampler("DPM++ 2M", Optional.of("Karras")),
            "dpmpp-2m-sde", new Sampler("DPM++ 2M SDE", Optional.of("Uniform")),
            "dpmpp-2m-sde-karras", new Sampler("DPM++ 2M SDE", Optional.of("Karras")),
            "lcm", new Sampler("LCM", Optional.empty()),
            "unipc", new Sampler("UniPC", Optional.empty()));

    private Samplers() {
    }

    /** The A1111 name of a scheduler id; a plugin's scheduler goes by its id. */
    static Sampler of(String schedulerId) {
        return BUILT_IN.getOrDefault(schedulerId, new Sampler(schedulerId, Optional.empty()));
    }
}

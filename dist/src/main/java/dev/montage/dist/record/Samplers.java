package dev.montage.dist.record;

import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

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

    private static final String AUTOMATIC = "Automatic";
    private static final String KARRAS = "Karras";
    /** A1111's name for the model's own schedule. */
    private static final String UNIFORM = "Uniform";
    /** What A1111's "Automatic" schedule type is for the samplers whose default is not the model's own schedule. */
    private static final Map<String, String> AUTOMATIC_SCHEDULES = Map.of("DPM++ 2M", "Karras", "DPM++ SDE", "Karras",
            "DPM++ 2M SDE", "Exponential");
    /** How A1111 before 1.9 named a sampler with Karras sigmas. */
    private static final String KARRAS_SUFFIX = " " + KARRAS;

    private static final Map<String, Sampler> BUILT_IN = Map.ofEntries(
            Map.entry("euler", new Sampler("Euler", Optional.empty())),
            Map.entry("euler-karras", new Sampler("Euler", Optional.of("Karras"))),
            Map.entry("euler-ancestral", new Sampler("Euler a", Optional.empty())),
            Map.entry("euler-ancestral-karras", new Sampler("Euler a", Optional.of("Karras"))),
            Map.entry("heun", new Sampler("Heun", Optional.empty())),
            Map.entry("heun-karras", new Sampler("Heun", Optional.of("Karras"))),
            Map.entry("dpm2", new Sampler("DPM2", Optional.empty())),
            Map.entry("dpm2-karras", new Sampler("DPM2", Optional.of("Karras"))),
            Map.entry("dpm2-ancestral", new Sampler("DPM2 a", Optional.empty())),
            Map.entry("dpm2-ancestral-karras", new Sampler("DPM2 a", Optional.of("Karras"))),
            Map.entry("lms", new Sampler("LMS", Optional.empty())),
            Map.entry("lms-karras", new Sampler("LMS", Optional.of("Karras"))),
            Map.entry("ddim", new Sampler("DDIM", Optional.empty(), Optional.of("Eta DDIM"))),
            // A1111's DPM++ 2M defaults to Karras sigmas: the plain schedule is "Uniform" there
            Map.entry("dpmpp-2m", new Sampler("DPM++ 2M", Optional.of("Uniform"))),
            Map.entry("dpmpp-2m-karras", new Sampler("DPM++ 2M", Optional.of("Karras"))),
            Map.entry("dpmpp-2m-sde", new Sampler("DPM++ 2M SDE", Optional.of("Uniform"))),
            Map.entry("dpmpp-2m-sde-karras", new Sampler("DPM++ 2M SDE", Optional.of("Karras"))),
            // likewise DPM++ SDE
            Map.entry("dpmpp-sde", new Sampler("DPM++ SDE", Optional.of("Uniform"))),
            Map.entry("dpmpp-sde-karras", new Sampler("DPM++ SDE", Optional.of("Karras"))),
            Map.entry("dpmpp-2s-ancestral", new Sampler("DPM++ 2S a", Optional.empty())),
            Map.entry("dpmpp-2s-ancestral-karras", new Sampler("DPM++ 2S a", Optional.of("Karras"))),
            Map.entry("lcm", new Sampler("LCM", Optional.empty())),
            Map.entry("unipc", new Sampler("UniPC", Optional.empty())));

    /**
     * An A1111 sampler that is another's method with one scheduler setting changed.
     *
     * @param base    the other sampler's name
     * @param setting the setting, by its diffusers name
     * @param value   its value
     */
    private record Variant(String base, String setting, String value) {
    }

    /** The A1111 samplers that are a built-in scheduler with one of its settings, by their names. */
    private static final Map<String, Variant> VARIANTS = Map.of("DPM++ 2M SDE Heun",
            new Variant("DPM++ 2M SDE", "solver_type", "heun"));

    private Samplers() {
    }

    /**
     * The built-in scheduler an A1111 sampler and schedule type name; empty where none is the same method. Without a
     * schedule type (A1111 before 1.9, which put Karras in the sampler's name: "DPM++ 2M Karras") the name alone
     * decides; "Automatic" is the sampler's own default in A1111; any other must be the schedule a built-in has
     * ("Karras", or "Uniform", A1111's name for the model's own).
     */
    static Optional<String> schedulerOf(String sampler, Optional<String> scheduleType) {
        String name = sampler.strip();
        String type = scheduleType.map(String::strip).orElse(null);
        if (name.endsWith(KARRAS_SUFFIX)) {
            if (type != null && !type.equals(KARRAS) && !type.equals(AUTOMATIC)) {
                return Optional.empty();
            }
            name = name.substring(0, name.length() - KARRAS_SUFFIX.length());
            type = KARRAS;
        }
        name = Optional.ofNullable(VARIANTS.get(name)).map(Variant::base).orElse(name);
        if (AUTOMATIC.equals(type)) {
            type = AUTOMATIC_SCHEDULES.get(name);
        }
        for (Map.Entry<String, Sampler> e : BUILT_IN.entrySet()) {
            boolean scheduled = type == null ? !e.getKey().endsWith("-karras")
                    : e.getValue().scheduleType().orElse(UNIFORM).equals(type);
            if (e.getValue().name().equals(name) && scheduled) {
                return Optional.of(e.getKey());
            }
        }
        return Optional.empty();
    }

    /** The A1111 name of a scheduler id; a plugin's scheduler goes by its id. */
    static Sampler of(String schedulerId) {
        return BUILT_IN.getOrDefault(schedulerId, new Sampler(schedulerId, Optional.empty()));
    }

    /**
     * The A1111 name of a scheduler id run with some settings: that of {@link #of(String)}, or, where the settings
     * make it another A1111 sampler, that one's ({@code dpmpp-2m-sde} with {@code solver_type: heun} is
     * "DPM++ 2M SDE Heun").
     *
     * @param settings a setting's value by its diffusers name, where the run had one
     */
    static Sampler of(String schedulerId, Function<String, Optional<String>> settings) {
        Sampler sampler = of(schedulerId);
        for (Map.Entry<String, Variant> e : VARIANTS.entrySet()) {
            Variant v = e.getValue();
            if (v.base().equals(sampler.name()) && settings.apply(v.setting()).filter(v.value()::equals).isPresent()) {
                return new Sampler(e.getKey(), sampler.scheduleType(), sampler.etaName());
            }
        }
        return sampler;
    }

    /**
     * The scheduler settings an A1111 sampler name gives beyond its built-in scheduler ({@code solver_type: heun} for
     * "DPM++ 2M SDE Heun"); empty for most.
     */
    static Map<String, String> settingsOf(String sampler) {
        String name = sampler.strip();
        if (name.endsWith(KARRAS_SUFFIX)) {
            name = name.substring(0, name.length() - KARRAS_SUFFIX.length());
        }
        return Optional.ofNullable(VARIANTS.get(name)).map(v -> Map.of(v.setting(), v.value())).orElse(Map.of());
    }
}

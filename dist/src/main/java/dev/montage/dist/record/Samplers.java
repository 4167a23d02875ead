package dev.montage.dist.record;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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

        /** A1111's default η of the sampler, which it does not record: 0 for DDIM, 1 for the k-diffusion SDEs. */
        double etaDefault() {
            return etaName.filter(DDIM_ETA::equals).isPresent() ? 0 : 1;
        }
    }

    /**
     * A1111's schedule types that are a scheduler setting (by its diffusers name) on the model's own schedule: the
     * exponential, the beta and the Align Your Steps noise levels.
     */
    static final Map<String, String> SCHEDULE_SETTINGS = Map.of("Exponential", "use_exponential_sigmas", "Beta",
            "use_beta_sigmas", "Align Your Steps", "use_align_your_steps_sigmas");
    /**
     * A1111's schedule types that space the model's own levels as a diffusers {@code timestep_spacing} does: SGM
     * Uniform and Simple step down from the last training timestep in equal strides (trailing), DDIM takes every
     * (1000 / steps)-th timestep from 1 up (leading with {@code steps_offset} 1); diffusers rounds a fractional stride
     * where A1111 truncates it or interpolates σ between timesteps.
     */
    static final Map<String, String> SPACINGS = Map.of("SGM Uniform", "trailing", "Simple", "trailing", "DDIM",
            "leading");
    private static final String TIMESTEP_SPACING = "timestep_spacing";
    private static final String SGM_UNIFORM = "SGM Uniform";
    private static final String DDIM_ETA = "Eta DDIM";

    private static final String AUTOMATIC = "Automatic";
    private static final String KARRAS = "Karras";
    private static final String EXPONENTIAL = "Exponential";
    /** A1111's name for the model's own schedule. */
    private static final String UNIFORM = "Uniform";
    /** What A1111's "Automatic" schedule type is for the samplers whose default is not the model's own schedule. */
    private static final Map<String, String> AUTOMATIC_SCHEDULES = Map.of("DPM++ 2M", KARRAS, "DPM++ SDE", KARRAS,
            "DPM++ 2S a", KARRAS, "DPM++ 2M SDE", EXPONENTIAL, "DPM++ 3M SDE", EXPONENTIAL);
    /** How A1111 before 1.9 named a sampler with Karras or exponential sigmas: after its name. */
    private static final Set<String> SCHEDULE_SUFFIXES = Set.of(KARRAS, EXPONENTIAL);
    /**
     * The built-in schedulers that read the settings of {@link #SCHEDULE_SETTINGS}: A1111's Exponential or Beta
     * schedule type is the scheduler on the model's own schedule with that setting.
     */
    static final Set<String> LEVEL_SCHEDULERS = Set.of("euler", "heun", "dpm2", "dpm2-ancestral", "lms",
            "dpmpp-2m", "dpmpp-2m-sde", "dpmpp-sde", "dpmpp-2s-ancestral", "dpmpp-3m-sde");

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
            Map.entry("ddim", new Sampler("DDIM", Optional.empty(), Optional.of(DDIM_ETA))),
            // A1111's DPM++ 2M defaults to Karras sigmas: the plain schedule is "Uniform" there
            Map.entry("dpmpp-2m", new Sampler("DPM++ 2M", Optional.of("Uniform"))),
            Map.entry("dpmpp-2m-karras", new Sampler("DPM++ 2M", Optional.of("Karras"))),
            Map.entry("dpmpp-2m-sde", new Sampler("DPM++ 2M SDE", Optional.of("Uniform"))),
            Map.entry("dpmpp-2m-sde-karras", new Sampler("DPM++ 2M SDE", Optional.of("Karras"))),
            // likewise DPM++ SDE
            Map.entry("dpmpp-sde", new Sampler("DPM++ SDE", Optional.of("Uniform"))),
            Map.entry("dpmpp-sde-karras", new Sampler("DPM++ SDE", Optional.of("Karras"))),
            // likewise DPM++ 2S a since A1111 1.9
            Map.entry("dpmpp-2s-ancestral", new Sampler("DPM++ 2S a", Optional.of("Uniform"))),
            Map.entry("dpmpp-2s-ancestral-karras", new Sampler("DPM++ 2S a", Optional.of("Karras"))),
            // A1111's DPM++ 3M SDE defaults to exponential sigmas
            Map.entry("dpmpp-3m-sde", new Sampler("DPM++ 3M SDE", Optional.of("Uniform"), Optional.of("Eta"))),
            Map.entry("dpmpp-3m-sde-karras", new Sampler("DPM++ 3M SDE", Optional.of("Karras"), Optional.of("Eta"))),
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
     * schedule type (A1111 before 1.9, which put Karras or Exponential in the sampler's name: "DPM++ 2M Karras") the
     * name alone decides; "Automatic" is the sampler's own default in A1111; any other must be the schedule a built-in
     * has ("Karras", or "Uniform", A1111's name for the model's own) or "Exponential", which is the scheduler of the
     * model's own schedule with {@code use_exponential_sigmas} where it reads that setting (see {@link #settingsOf}),
     * and likewise "Beta" with {@code use_beta_sigmas}.
     */
    static Optional<String> schedulerOf(String sampler, Optional<String> scheduleType) {
        return Named.of(sampler, scheduleType).flatMap(Named::scheduler);
    }

    /**
     * An A1111 sampler name and schedule type, the schedule taken out of a name before 1.9 and "Automatic" replaced
     * by the sampler's default.
     *
     * @param name    the sampler's name without a schedule, a variant's base name
     * @param type    the schedule type, null for none
     * @param variant the variant the name is, if it is one
     */
    private record Named(String name, String type, Optional<Variant> variant) {
        /** Empty where the name and the type name two schedules. */
        static Optional<Named> of(String sampler, Optional<String> scheduleType) {
            String name = sampler.strip();
            String type = scheduleType.map(String::strip).orElse(null);
            for (String suffix : SCHEDULE_SUFFIXES) {
                if (name.endsWith(" " + suffix)) {
                    if (type != null && !type.equals(suffix) && !type.equals(AUTOMATIC)) {
                        return Optional.empty();
                    }
                    name = name.substring(0, name.length() - suffix.length() - 1);
                    type = suffix;
                }
            }
            Optional<Variant> variant = Optional.ofNullable(VARIANTS.get(name));
            name = variant.map(Variant::base).orElse(name);
            if (AUTOMATIC.equals(type)) {
                type = AUTOMATIC_SCHEDULES.get(name);
            }
            return Optional.of(new Named(name, type, variant));
        }

        Optional<String> scheduler() {
            boolean converted = type != null && SCHEDULE_SETTINGS.containsKey(type);
            boolean spaced = type != null && SPACINGS.containsKey(type);
            for (Map.Entry<String, Sampler> e : BUILT_IN.entrySet()) {
                String schedule = e.getValue().scheduleType().orElse(UNIFORM);
                boolean scheduled = type == null ? !e.getKey().endsWith("-karras")
                        : converted ? schedule.equals(UNIFORM) && LEVEL_SCHEDULERS.contains(e.getKey())
                        : spaced ? schedule.equals(UNIFORM) && !e.getKey().equals("lcm")
                        : schedule.equals(type);
                if (e.getValue().name().equals(name) && scheduled) {
                    return Optional.of(e.getKey());
                }
            }
            return Optional.empty();
        }
    }

    /** The A1111 name of a scheduler id; a plugin's scheduler goes by its id. */
    static Sampler of(String schedulerId) {
        return BUILT_IN.getOrDefault(schedulerId, new Sampler(schedulerId, Optional.empty()));
    }

    /**
     * The A1111 name of a scheduler id run with some settings: that of {@link #of(String)}, or, where the settings
     * make it another A1111 sampler, that one's ({@code dpmpp-2m-sde} with {@code solver_type: heun} is
     * "DPM++ 2M SDE Heun"), the schedule type "Exponential" or "Beta" where {@code use_exponential_sigmas} or
     * {@code use_beta_sigmas} is true, and "SGM Uniform" where the model's own levels are spaced {@code trailing}.
     *
     * @param settings a setting's value by its diffusers name, where the run had one
     */
    static Sampler of(String schedulerId, Function<String, Optional<String>> settings) {
        Sampler sampler = of(schedulerId);
        if (!schedulerId.equals("lcm") && sampler.scheduleType().orElse(UNIFORM).equals(UNIFORM)
                && settings.apply(TIMESTEP_SPACING)
                .filter(SPACINGS.get(SGM_UNIFORM)::equals).isPresent()) {
            sampler = new Sampler(sampler.name(), Optional.of(SGM_UNIFORM), sampler.etaName());
        }
        if (LEVEL_SCHEDULERS.contains(schedulerId)) {
            for (Map.Entry<String, String> e : SCHEDULE_SETTINGS.entrySet()) {
                if (settings.apply(e.getValue()).filter("true"::equalsIgnoreCase).isPresent()) {
                    sampler = new Sampler(sampler.name(), Optional.of(e.getKey()), sampler.etaName());
                }
            }
        }
        for (Map.Entry<String, Variant> e : VARIANTS.entrySet()) {
            Variant v = e.getValue();
            if (v.base().equals(sampler.name()) && settings.apply(v.setting()).filter(v.value()::equals).isPresent()) {
                return new Sampler(e.getKey(), sampler.scheduleType(), sampler.etaName());
            }
        }
        return sampler;
    }

    /**
     * The scheduler settings an A1111 sampler name and schedule type give beyond its built-in scheduler
     * ({@code solver_type: heun} for "DPM++ 2M SDE Heun", {@code use_exponential_sigmas} for the Exponential schedule,
     * {@code use_beta_sigmas} for the Beta one, the {@code timestep_spacing} of {@link #SPACINGS}); empty for most.
     */
    static Map<String, String> settingsOf(String sampler, Optional<String> scheduleType) {
        Map<String, String> settings = new LinkedHashMap<>();
        Named.of(sampler, scheduleType).ifPresent(named -> {
            named.variant().ifPresent(v -> settings.put(v.setting(), v.value()));
            Optional.ofNullable(named.type()).map(SCHEDULE_SETTINGS::get).ifPresent(s -> settings.put(s, "true"));
            Optional.ofNullable(named.type()).map(SPACINGS::get).ifPresent(spacing -> {
                settings.put(TIMESTEP_SPACING, spacing);
                if (spacing.equals("leading")) {
                    settings.put("steps_offset", "1");
                }
            });
        });
        return settings;
    }
}

package dev.montage.dist.record;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.dist.record.Samplers.Sampler;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** A1111's names of the built-in schedulers, as its readers recognise them. */
class SamplersTest {
    @Test
    void eachBuiltInSchedulerHasA1111sNameAndAPluginsKeepsItsId() {
        assertEquals(new Sampler("Euler", Optional.empty()), Samplers.of("euler"));
        assertEquals(new Sampler("Euler", Optional.of("Karras")), Samplers.of("euler-karras"));
        assertEquals(new Sampler("Euler a", Optional.empty()), Samplers.of("euler-ancestral"));
        assertEquals(new Sampler("Heun", Optional.empty()), Samplers.of("heun"));
        assertEquals(new Sampler("Heun", Optional.of("Karras")), Samplers.of("heun-karras"));
        assertEquals(new Sampler("DPM2", Optional.of("Karras")), Samplers.of("dpm2-karras"));
        assertEquals(new Sampler("DPM2 a", Optional.empty()), Samplers.of("dpm2-ancestral"));
        assertEquals(new Sampler("DDIM", Optional.empty(), Optional.of("Eta DDIM")), Samplers.of("ddim"));
        assertEquals(new Sampler("DPM++ 2M", Optional.of("Uniform")), Samplers.of("dpmpp-2m"));
        assertEquals(new Sampler("DPM++ 2M", Optional.of("Karras")), Samplers.of("dpmpp-2m-karras"));
        assertEquals(new Sampler("DPM++ 2M SDE", Optional.of("Uniform")), Samplers.of("dpmpp-2m-sde"));
        assertEquals(new Sampler("DPM++ 2M SDE", Optional.of("Karras")), Samplers.of("dpmpp-2m-sde-karras"));
        assertEquals(new Sampler("DPM++ SDE", Optional.of("Uniform")), Samplers.of("dpmpp-sde"));
        assertEquals(new Sampler("DPM++ SDE", Optional.of("Karras")), Samplers.of("dpmpp-sde-karras"));
        assertEquals(new Sampler("DPM++ 2S a", Optional.of("Uniform")), Samplers.of("dpmpp-2s-ancestral"));
        assertEquals(new Sampler("DPM++ 2S a", Optional.of("Karras")), Samplers.of("dpmpp-2s-ancestral-karras"));
        assertEquals(new Sampler("DPM++ 3M SDE", Optional.of("Uniform"), Optional.of("Eta")),
                Samplers.of("dpmpp-3m-sde"));
        assertEquals(new Sampler("DPM++ 3M SDE", Optional.of("Karras"), Optional.of("Eta")),
                Samplers.of("dpmpp-3m-sde-karras"));
        assertEquals(new Sampler("LCM", Optional.empty()), Samplers.of("lcm"));
        assertEquals(new Sampler("UniPC", Optional.empty()), Samplers.of("unipc"));
        assertEquals(new Sampler("my-sampler", Optional.empty()), Samplers.of("my-sampler"));
    }

    /** What Montage writes for a built-in scheduler is read back as that scheduler. */
    @Test
    void eachBuiltInSchedulerIsReadBackFromWhatItsPngSays() {
        for (String id : List.of("euler", "euler-karras", "euler-ancestral", "heun", "heun-karras", "dpm2",
                "dpm2-karras", "dpm2-ancestral", "dpm2-ancestral-karras", "lms", "lms-karras", "ddim", "dpmpp-2m",
                "dpmpp-2m-karras", "dpmpp-2m-sde", "dpmpp-2m-sde-karras", "dpmpp-sde", "dpmpp-sde-karras",
                "dpmpp-2s-ancestral", "dpmpp-2s-ancestral-karras", "dpmpp-3m-sde", "dpmpp-3m-sde-karras", "lcm",
                "unipc")) {
            Sampler written = Samplers.of(id);
            assertEquals(Optional.of(id), Samplers.schedulerOf(written.name(), written.scheduleType()), id);
        }
    }

    /**
     * A1111's own names: before 1.9 Karras was part of the sampler's name and a name alone meant the model's own
     * schedule; since 1.9 the schedule type says it, "Automatic" being the sampler's default (Karras for DPM++ 2M).
     * A sampler or schedule no built-in scheduler is gives none.
     */
    @Test
    void a1111SamplersAreReadAsTheSameBuiltInScheduler() {
        assertEquals(Optional.of("dpmpp-2m-karras"), Samplers.schedulerOf("DPM++ 2M Karras", Optional.empty()));
        assertEquals(Optional.of("dpmpp-2m-sde-karras"), Samplers.schedulerOf("DPM++ 2M SDE Karras",
                Optional.empty()));
        assertEquals(Optional.of("dpmpp-2m"), Samplers.schedulerOf("DPM++ 2M", Optional.empty()));
        assertEquals(Optional.of("dpmpp-2m-karras"), Samplers.schedulerOf("DPM++ 2M", Optional.of("Automatic")));
        assertEquals(Optional.of("euler"), Samplers.schedulerOf("Euler", Optional.of("Automatic")));
        assertEquals(Optional.of("euler"), Samplers.schedulerOf("Euler", Optional.of("Uniform")));
        assertEquals(Optional.of("euler-ancestral"), Samplers.schedulerOf(" Euler a ", Optional.empty()));
        assertEquals(Optional.of("heun"), Samplers.schedulerOf("Heun", Optional.of("Automatic")));
        assertEquals(Optional.of("heun-karras"), Samplers.schedulerOf("Heun", Optional.of("Karras")));
        assertEquals(Optional.of("dpm2-ancestral-karras"), Samplers.schedulerOf("DPM2 a Karras", Optional.empty()));
        assertEquals(Optional.of("lms-karras"), Samplers.schedulerOf("LMS", Optional.of("Karras")));
        assertEquals(Optional.of("dpmpp-sde-karras"), Samplers.schedulerOf("DPM++ SDE Karras", Optional.empty()));
        assertEquals(Optional.of("dpmpp-sde-karras"), Samplers.schedulerOf("DPM++ SDE", Optional.of("Automatic")));
        assertEquals(Optional.of("dpmpp-sde"), Samplers.schedulerOf("DPM++ SDE", Optional.empty()));
        assertEquals(Optional.of("euler-ancestral-karras"), Samplers.schedulerOf("Euler a", Optional.of("Karras")));
        assertEquals(new Sampler("Euler a", Optional.of("Karras")), Samplers.of("euler-ancestral-karras"));
        assertEquals(Optional.of("dpmpp-2s-ancestral"), Samplers.schedulerOf("DPM++ 2S a", Optional.empty()));
        assertEquals(Optional.of("dpmpp-2s-ancestral-karras"), Samplers.schedulerOf("DPM++ 2S a",
                Optional.of("Automatic")), "A1111 1.9's default schedule of DPM++ 2S a");
        assertEquals(Optional.of("dpmpp-2s-ancestral"), Samplers.schedulerOf("DPM++ 2S a", Optional.of("Uniform")));
        assertEquals(Optional.of("dpmpp-3m-sde"), Samplers.schedulerOf("DPM++ 3M SDE", Optional.empty()));
        assertEquals(Optional.of("dpmpp-3m-sde-karras"), Samplers.schedulerOf("DPM++ 3M SDE Karras",
                Optional.empty()));
        assertEquals(Optional.of("dpmpp-2s-ancestral-karras"), Samplers.schedulerOf("DPM++ 2S a Karras",
                Optional.empty()));
        assertEquals(Optional.of("dpmpp-2s-ancestral-karras"), Samplers.schedulerOf("DPM++ 2S a",
                Optional.of("Karras")));
        for (String[] none : new String[][] {{"DPM++ 3M SDE", "KL Optimal"}, {"Euler a", "Exponential"}, {"UniPC",
            "Exponential"}, {"DDIM", "Exponential"}, {"DPM++ 2M Karras", "Uniform"}, {"DPM++ 2M Exponential",
                "Karras"}, {"my-sampler", null}}) {
            assertEquals(Optional.empty(), Samplers.schedulerOf(none[0], Optional.ofNullable(none[1])),
                    String.join(" / ", Arrays.asList(none)));
        }
    }

    /**
     * "DPM++ 2M SDE Heun" is DPM++ 2M SDE with {@code solver_type: heun}, on the same schedules (its A1111 default,
     * Exponential, being none of the built-ins'); other settings or schedulers keep their names.
     */
    @Test
    void dpmSolverSdeWithHeunsUpdateIsA1111sDpmpp2mSdeHeun() {
        Function<String, Optional<String>> heun = name -> Optional.of("heun").filter(v -> name.equals("solver_type"));
        assertEquals(new Sampler("DPM++ 2M SDE Heun", Optional.of("Uniform")), Samplers.of("dpmpp-2m-sde", heun));
        assertEquals(new Sampler("DPM++ 2M SDE Heun", Optional.of("Karras")),
                Samplers.of("dpmpp-2m-sde-karras", heun));
        assertEquals(new Sampler("DPM++ 2M SDE", Optional.of("Uniform")), Samplers.of("dpmpp-2m-sde",
                name -> Optional.of("midpoint")));
        assertEquals(new Sampler("DPM++ 2M", Optional.of("Uniform")), Samplers.of("dpmpp-2m", heun));
        assertEquals(Optional.of("dpmpp-2m-sde-karras"), Samplers.schedulerOf("DPM++ 2M SDE Heun",
                Optional.of("Karras")));
        assertEquals(Optional.of("dpmpp-2m-sde-karras"), Samplers.schedulerOf("DPM++ 2M SDE Heun Karras",
                Optional.empty()));
        assertEquals(Optional.of("dpmpp-2m-sde"), Samplers.schedulerOf("DPM++ 2M SDE Heun", Optional.empty()));
        assertEquals(Optional.of("dpmpp-2m-sde"), Samplers.schedulerOf("DPM++ 2M SDE Heun", Optional.of("Automatic")));
        assertEquals(Map.of("solver_type", "heun"), Samplers.settingsOf("DPM++ 2M SDE Heun Karras", Optional.empty()));
        assertEquals(Map.of(), Samplers.settingsOf("DPM++ 2M SDE", Optional.of("Uniform")));
        assertEquals(Map.of("solver_type", "heun"), A1111Parameters.parse("a castle\nSteps: 2, Sampler: DPM++ 2M SDE "
                + "Heun, Schedule type: Karras, Seed: 1").schedulerOptions());
        assertEquals(Map.of("solver_type", "heun", "use_exponential_sigmas", "true"), A1111Parameters.parse("a castle\n"
                + "Steps: 2, Sampler: DPM++ 2M SDE Heun, Schedule type: Exponential, Seed: 1").schedulerOptions());
        assertEquals(Map.of(), A1111Parameters.parse("a castle\nSteps: 2, Sampler: DPM++ 2M SDE Heun, Schedule type: "
                + "KL Optimal, Seed: 1").schedulerOptions(), "no built-in scheduler, no settings");
    }

    /** A1111's "Eta DDIM" is DDIM's η; it means nothing for another sampler, and must be a number. */
    @Test
    void a1111sEtaIsReadAsDdimsSetting() {
        assertEquals(Map.of("eta", "0.3"), A1111Parameters.parse("a castle\nSteps: 2, Sampler: DDIM, Eta DDIM: .3, "
                + "Seed: 1").schedulerOptions());
        assertEquals(Map.of(), A1111Parameters.parse("a castle\nSteps: 2, Sampler: DDIM, Seed: 1").schedulerOptions());
        assertEquals(Map.of(), A1111Parameters.parse("a castle\nSteps: 2, Sampler: Euler, Eta DDIM: 0.3, Seed: 1")
                .schedulerOptions());
        assertThrows(NumberFormatException.class, () -> A1111Parameters.parse("a castle\nSteps: 2, Sampler: DDIM, "
                + "Eta DDIM: much, Seed: 1").schedulerOptions());
    }

    /**
     * A1111's Exponential schedule type (and, before 1.9, " Exponential" after the name; "Automatic" for DPM++ 2M SDE
     * and DPM++ 3M SDE) is the scheduler of the model's own schedule with {@code use_exponential_sigmas: true}, for the
     * schedulers that read it; Montage writes it so, and reads it back.
     */
    @Test
    void a1111sExponentialScheduleIsTheSchedulersExponentialSigmas() {
        Map<String, String> exponential = Map.of("use_exponential_sigmas", "true");
        for (String[] named : new String[][] {{"DPM++ 2M SDE", "Exponential", "dpmpp-2m-sde"},
            {"DPM++ 2M SDE", "Automatic", "dpmpp-2m-sde"}, {"DPM++ 2M SDE Exponential", null, "dpmpp-2m-sde"},
            {"DPM++ 3M SDE", "Automatic", "dpmpp-3m-sde"}, {"DPM++ 3M SDE Exponential", null, "dpmpp-3m-sde"},
            {"Euler", "Exponential", "euler"}, {"Heun", "Exponential", "heun"}, {"DPM2 a", "Exponential",
                "dpm2-ancestral"}, {"LMS", "Exponential", "lms"}, {"DPM++ 2M", "Exponential", "dpmpp-2m"},
            {"DPM++ SDE", "Exponential", "dpmpp-sde"}, {"DPM++ 2S a", "Exponential", "dpmpp-2s-ancestral"}}) {
            Optional<String> type = Optional.ofNullable(named[1]);
            assertEquals(Optional.of(named[2]), Samplers.schedulerOf(named[0], type), named[0] + " / " + named[1]);
            assertEquals(exponential, Samplers.settingsOf(named[0], type), named[0] + " / " + named[1]);
            Sampler written = Samplers.of(named[2], name -> Optional.ofNullable(exponential.get(name)));
            assertEquals(Optional.of("Exponential"), written.scheduleType(), named[2]);
            assertEquals(Optional.of(named[2]), Samplers.schedulerOf(written.name(), written.scheduleType()));
        }
        Map<String, String> beta = Map.of("use_beta_sigmas", "true");
        assertEquals(Optional.of("dpmpp-3m-sde"), Samplers.schedulerOf("DPM++ 3M SDE", Optional.of("Beta")));
        assertEquals(beta, Samplers.settingsOf("DPM++ 3M SDE", Optional.of("Beta")));
        assertEquals(new Sampler("Euler", Optional.of("Beta")), Samplers.of("euler", name -> Optional.ofNullable(
                beta.get(name))));
        assertEquals(Optional.empty(), Samplers.schedulerOf("Euler a", Optional.of("Beta")));
        Map<String, String> ays = Map.of("use_align_your_steps_sigmas", "true");
        assertEquals(Optional.of("dpmpp-2m"), Samplers.schedulerOf("DPM++ 2M", Optional.of("Align Your Steps")));
        assertEquals(ays, Samplers.settingsOf("DPM++ 2M", Optional.of("Align Your Steps")));
        assertEquals(new Sampler("DPM++ 2M", Optional.of("Align Your Steps")), Samplers.of("dpmpp-2m",
                name -> Optional.ofNullable(ays.get(name))));
        assertEquals(Optional.of("Uniform"), Samplers.of("dpmpp-2m-sde", name -> Optional.of("false")
                .filter(v -> name.equals("use_exponential_sigmas"))).scheduleType());
        assertEquals(Map.of("use_exponential_sigmas", "true", "eta", "0.5"), A1111Parameters.parse("a castle\n"
                + "Steps: 2, Sampler: DPM++ 3M SDE, Schedule type: Automatic, Eta: 0.5, Seed: 1").schedulerOptions());
        // Polyexponential at its default ρ of 1 is the exponential schedule; at another ρ it is none of the built-ins
        A1111Parameters poly = A1111Parameters.parse("a castle\nSteps: 2, Sampler: DPM++ 2M, Schedule type: "
                + "Polyexponential, Seed: 1");
        assertEquals(Optional.of("dpmpp-2m"), poly.scheduler());
        assertEquals(exponential, poly.schedulerOptions());
        assertEquals(Optional.empty(), A1111Parameters.parse("a castle\nSteps: 2, Sampler: DPM++ 2M, Schedule type: "
                + "Polyexponential, Schedule rho: 2, Seed: 1").scheduler());
    }

    /**
     * A1111's SGM Uniform and Simple schedule types are the scheduler of the model's own levels spaced trailing, its
     * DDIM type the leading spacing from timestep 1; a Karras sampler or LCM takes none of them; Montage writes
     * trailing as SGM Uniform and reads it back. Every built-in one of them maps to reads those settings.
     */
    @Test
    void a1111sSpacingSchedulesAreTheSchedulersTimestepSpacing() {
        Map<String, String> trailing = Map.of("timestep_spacing", "trailing");
        for (String type : List.of("SGM Uniform", "Simple")) {
            assertEquals(Optional.of("dpmpp-2m"), Samplers.schedulerOf("DPM++ 2M", Optional.of(type)), type);
            assertEquals(trailing, Samplers.settingsOf("DPM++ 2M", Optional.of(type)), type);
        }
        assertEquals(Optional.of("euler-ancestral"), Samplers.schedulerOf("Euler a", Optional.of("SGM Uniform")));
        assertEquals(Optional.of("euler"), Samplers.schedulerOf("Euler", Optional.of("DDIM")));
        assertEquals(Map.of("timestep_spacing", "leading", "steps_offset", "1"), Samplers.settingsOf("Euler",
                Optional.of("DDIM")));
        assertEquals(Optional.empty(), Samplers.schedulerOf("DPM++ 2M Karras", Optional.of("SGM Uniform")));
        assertEquals(Optional.empty(), Samplers.schedulerOf("LCM", Optional.of("SGM Uniform")));
        Sampler written = Samplers.of("dpmpp-2m", name -> Optional.ofNullable(trailing.get(name)));
        assertEquals(new Sampler("DPM++ 2M", Optional.of("SGM Uniform")), written);
        assertEquals(Optional.of("dpmpp-2m"), Samplers.schedulerOf(written.name(), written.scheduleType()));
        assertEquals(Optional.of("Karras"), Samplers.of("dpmpp-2m-karras", name -> Optional.ofNullable(trailing
                .get(name))).scheduleType(), "Karras levels do not follow the spacing");
        assertEquals(Optional.empty(), Samplers.of("lcm", name -> Optional.ofNullable(trailing.get(name)))
                .scheduleType());
        Set<String> spaced = new TreeSet<>();
        for (ComponentFactory<?> f : ServiceLoader.load(ComponentFactory.class)) {
            if (f.kind() == ComponentKind.SCHEDULER && Samplers.schedulerOf(Samplers.of(f.id()).name(),
                    Optional.of("SGM Uniform")).equals(Optional.of(f.id()))) {
                spaced.add(f.id());
                Set<String> options = new TreeSet<>();
                f.options().forEach(o -> options.add(o.name()));
                assertTrue(options.containsAll(List.of("timestep_spacing", "steps_offset")), f.id() + ": " + options);
            }
        }
        assertTrue(spaced.containsAll(List.of("euler", "euler-ancestral", "dpmpp-2m", "unipc", "ddim")),
                spaced.toString());
    }

    /**
     * The built-in schedulers that A1111's Exponential, Beta and Align Your Steps schedules map to are exactly those
     * whose factories declare {@code use_exponential_sigmas}, {@code use_beta_sigmas} and
     * {@code use_align_your_steps_sigmas}.
     */
    @Test
    void theExponentialSchedulersAreThoseThatReadTheSetting() {
        Set<String> reading = new TreeSet<>();
        for (ComponentFactory<?> f : ServiceLoader.load(ComponentFactory.class)) {
            if (f.kind() == ComponentKind.SCHEDULER && f.options().stream().anyMatch(o -> o.name().equals(
                    "use_exponential_sigmas")) && !f.id().endsWith("-karras")) {
                reading.add(f.id());
            }
        }
        assertEquals(new TreeSet<>(Samplers.LEVEL_SCHEDULERS), reading);
        for (ComponentFactory<?> f : ServiceLoader.load(ComponentFactory.class)) {
            if (f.kind() == ComponentKind.SCHEDULER) {
                for (String setting : Samplers.SCHEDULE_SETTINGS.values()) {
                    assertEquals(f.options().stream().anyMatch(o -> o.name().equals("use_exponential_sigmas")),
                            f.options().stream().anyMatch(o -> o.name().equals(setting)), f.id() + " " + setting);
                }
            }
        }
    }
}

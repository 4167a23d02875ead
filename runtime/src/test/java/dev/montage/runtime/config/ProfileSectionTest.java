package dev.montage.runtime.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A host's own profile section is layered, overridden, bound, checked and described as the runtime's sections are. */
class ProfileSectionTest {
    /** A host's section with a key of each kind: text, integer, optional path, keys of the user's choosing. */
    public record Telemetry(String endpoint, int port, Optional<Path> spool, Map<String, String> tags) {
    }

    private static final ProfileSection<Telemetry> TELEMETRY = new ProfileSection<>("telemetry", Telemetry.class,
            """
            telemetry:
              endpoint: localhost   # where the host sends its figures
              port: 4317
            """, (t, checks) -> {
                checks.atLeast("telemetry.port", t.port(), 1, "ports");
                t.spool().ifPresent(s -> checks.file("telemetry.spool", s, "the spool file"));
            });

    @TempDir
    Path dir;

    private static ProfileResolver resolver() {
        return new ProfileResolver(ProfileCatalog.classpath(ProfileSectionTest.class.getClassLoader()),
                FakeModels.registry());
    }

    private String file(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text).toString();
    }

    private static List<ProfileProblem> problems(ProfileResolver resolver, String... profiles) {
        return assertThrows(ProfileException.class, () -> resolver.resolve(List.of(profiles))).problems();
    }

    @Test
    void itsDefaultsLayersAndOverridesWorkAsTheRuntimesSectionsDo() throws IOException {
        ResolvedProfile defaults = resolver().section(TELEMETRY).resolve(List.of());
        assertEquals(new Telemetry("localhost", 4317, Optional.empty(), Map.of()), defaults.section(TELEMETRY));
        assertEquals(ProfileResolver.DEFAULTS_SOURCE, defaults.origin("telemetry.port"));

        Files.writeString(dir.resolve("spool"), "");
        String profile = file("host.yaml", "telemetry:\n  port: 9000\n  spool: spool\n  tags: {team: a}\n");
        ResolvedProfile r = resolver().section(TELEMETRY)
                .environment(Map.of("MONTAGE_TELEMETRY_ENDPOINT", "collector", "MONTAGE_TELEMETRY_TAGS_SITE", "b"))
                .set("telemetry.port", 9100, "command line --port")
                .resolve(List.of(profile));
        // relative paths are taken from the profile file's folder
        assertEquals(new Telemetry("collector", 9100, Optional.of(dir.resolve("spool")),
                Map.of("team", "a", "site", "b")), r.section(TELEMETRY));
        assertEquals("environment variable MONTAGE_TELEMETRY_ENDPOINT", r.origin("telemetry.endpoint"));
        assertEquals("command line --port", r.origin("telemetry.port"));
        assertEquals(profile + ":3", r.origin("telemetry.spool"));
        String described = r.describe();
        assertTrue(described.matches("(?s).*\ntelemetry:\n  endpoint: collector +# environment variable "
                + "MONTAGE_TELEMETRY_ENDPOINT\n  port: 9100 +# command line --port\n.*"), described);
    }

    @Test
    void unknownKeysWrongTypesAndTheHostsChecksAreProblemsNamingTheirSource() throws IOException {
        String bad = file("bad.yaml", "telemetry:\n  prot: 1\n  port: 0\n  endpoint: [a, b]\n  spool: missing\n");
        ProfileResolver r = resolver().section(TELEMETRY).environment(Map.of("MONTAGE_TELEMETRY_PORTS", "3"));
        assertEquals(List.of(
                new ProfileProblem("environment variable MONTAGE_TELEMETRY_PORTS", "telemetry.ports", "unknown key; "
                        + "did you mean MONTAGE_TELEMETRY_PORT? (expected one of MONTAGE_TELEMETRY_ENDPOINT, "
                        + "MONTAGE_TELEMETRY_PORT, MONTAGE_TELEMETRY_SPOOL, MONTAGE_TELEMETRY_TAGS_<NAME>)"),
                new ProfileProblem(bad + ":2", "telemetry.prot", "unknown key; did you mean telemetry.port? (expected "
                        + "the keys of telemetry: endpoint, port, spool, tags)"),
                new ProfileProblem(bad + ":4", "telemetry.endpoint", "expected text, got a list"),
                new ProfileProblem(bad + ":3", "telemetry.port", "expected 1 or more ports, got 0"),
                new ProfileProblem(bad + ":5", "telemetry.spool", dir.resolve("missing") + " does not exist; expected "
                        + "the spool file")), problems(r, bad));
        assertEquals(List.of(new ProfileProblem("command line --set", "telemetry.port", "expected an integer, got "
                + "the text 'many'")), problems(resolver().section(TELEMETRY).set("telemetry.port", "many",
                "command line --set")));
    }

    @Test
    void withoutItAProfileHoldingTheSectionIsRefusedAndItsVariablesAreNotRead() throws IOException {
        String profile = file("host.yaml", "telemetry: {port: 9000}\n");
        assertEquals(List.of(new ProfileProblem(profile + ":1", "telemetry", "unknown key (expected the sections "
                + "engine, models, components, defaults, options, pipeline)")), problems(resolver(), profile));
        ResolvedProfile r = resolver().environment(Map.of("MONTAGE_TELEMETRY_PORT", "x")).resolve(List.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.section(TELEMETRY));
        assertEquals("the profile was resolved without the section 'telemetry'; expected it registered with "
                + "ProfileResolver.section before resolving (hosts' sections resolved: none)", e.getMessage());
    }

    /** A record with a component no profile value maps onto. */
    public record Wide(long bytes) {
    }

    @Test
    void sectionsThatCannotBeBoundAreRefusedWhenDeclared() {
        assertEquals("profile section name 'engine': the runtime's own section has it; expected another name than "
                + "engine, models, components, defaults, options, pipeline", assertThrows(
                IllegalArgumentException.class, () -> new ProfileSection<>("engine", Telemetry.class, "",
                        (t, c) -> { })).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new ProfileSection<>("Tele-metry",
                Telemetry.class, "", (t, c) -> { })).getMessage().startsWith("profile section name 'Tele-metry': "
                + "expected a key of lower-case letters"));
        assertEquals("profile section 'wide': profile records cannot use long", assertThrows(
                IllegalArgumentException.class, () -> new ProfileSection<>("wide", Wide.class, "",
                        (t, c) -> { })).getMessage());
        String message = assertThrows(IllegalArgumentException.class, () -> new ProfileSection<>("telemetry",
                Telemetry.class, "engine: {device: cpu}\n", (t, c) -> { })).getMessage();
        assertTrue(message.startsWith("profile section 'telemetry': bad defaults: ")
                && message.contains("engine: expected only the section telemetry"), message);
        ProfileSection<Telemetry> other = new ProfileSection<>("telemetry", Telemetry.class, "", (t, c) -> { });
        assertThrows(IllegalArgumentException.class, () -> resolver().section(TELEMETRY).section(other));
    }
}

package dev.montage.runtime.registry;

import dev.montage.api.spi.ComponentKind;
import java.util.List;

/**
 * What became of one plugin at startup: where it came from, whether it runs, the components it offered (each
 * registered or refused with the reason) and its problems. Each jar or classes folder of the classpath that holds
 * factories counts as one plugin named {@code classpath}; bundles are named {@code osgi:<Bundle-SymbolicName>}, PF4J plugins {@code pf4j:<Plugin-Id>}.
 *
 * @param name       {@code classpath}, {@code osgi:<bsn>}, {@code pf4j:<id>}, or the file name of a file that is
 *                   neither
 * @param location   the file or folder it was loaded from ({@code class path} for classpath problems that belong to
 *                   no jar)
 * @param about      its version and description
 * @param state      whether it started
 * @param components the component factories it offered, in the order found
 * @param problems   why it failed, or what went wrong with a part of it (empty when all is well)
 */
public record PluginReport(String name, String location, About about, State state, List<Component> components,
        List<String> problems) {

    /**
     * What a plugin says of itself: {@code Bundle-Version} and {@code Bundle-Description} of a bundle's manifest,
     * {@code plugin.version} and {@code plugin.description} of a PF4J descriptor, and for the classpath the
     * manifest of the jar (or classes folder) the factories come from ({@code Bundle-*}, else
     * {@code Implementation-Version} and {@code Implementation-Title}).
     *
     * @param version     its version, empty when it names none
     * @param description its one-line description, empty when it gives none
     */
    public record About(String version, String description) {
        /** A plugin that says nothing of itself. */
        public static final About NONE = new About("", "");

        public About {
            version = version == null ? "" : version.trim();
            description = description == null ? "" : description.replaceAll("\\s+", " ").trim();
        }
    }

    /** Whether a plugin runs. */
    public enum State {
        /** Started; its registered components can be used. */
        ACTIVE,
        /** Not started (unresolvable, incompatible, threw in its start, not a plugin): none of it is used. */
        FAILED
    }

    /**
     * One component a plugin offered.
     *
     * @param kind        its slot
     * @param id          its id
     * @param description its one-line description
     * @param refusal     why the registry refused it (duplicate id, API version range), or {@code null}
     */
    public record Component(ComponentKind kind, String id, String description, String refusal) {
        /** Whether the registry holds it. */
        public boolean registered() {
            return refusal == null;
        }
    }

    public PluginReport {
        components = List.copyOf(components);
        problems = List.copyOf(problems);
    }

    /** A plugin that did not start. */
    static PluginReport failed(String name, String location, String problem) {
        return new PluginReport(name, location, About.NONE, State.FAILED, List.of(), List.of(problem));
    }

    /** Whether it started with every component registered and nothing else wrong. */
    public boolean healthy() {
        return state == State.ACTIVE && problems.isEmpty() && components.stream().allMatch(Component::registered);
    }
}

package dev.montage.runtime.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A checked profile with where each of its values came from.
 *
 * @param profile  the values of the runtime's sections
 * @param layers   the profile names or files, weakest first
 * @param origins  dotted key to source ({@code file:line}, variable, flag); keys not in it have their built-in
 *                 default
 * @param sections the values of the sections hosts registered ({@link ProfileSection}), by name
 */
public record ResolvedProfile(Profile profile, List<String> layers, Map<String, String> origins,
        Map<String, Record> sections) {

    public ResolvedProfile {
        layers = List.copyOf(layers);
        origins = Map.copyOf(origins);
        sections = Collections.unmodifiableMap(new LinkedHashMap<>(sections));
    }

    /**
     * The values of a host's section.
     *
     * @throws IllegalArgumentException when the section was not registered with the resolver
     */
    public <T extends Record> T section(ProfileSection<T> section) {
        Record values = sections.get(section.name());
        if (values == null) {
            throw new IllegalArgumentException("the profile was resolved without the section '" + section.name()
                    + "'; expected it registered with ProfileResolver.section before resolving (hosts' sections "
                    + "resolved: " + (sections.isEmpty() ? "none" : String.join(", ", sections.keySet())) + ")");
        }
        return section.type().cast(values);
    }

    /** Where a key was set, or {@value ProfileResolver#DEFAULTS_SOURCE}. */
    public String origin(String key) {
        return SettingsTree.origin(origins, key, ProfileResolver.DEFAULTS_SOURCE);
    }

    /** The resolved profile as YAML, each value with where it came from; reading it back gives the same profile. */
    public String describe() {
        return "# profile: " + (layers.isEmpty() ? "(built-in defaults only)" : String.join(",", layers)) + "\n"
                + ProfileWriter.write(profile, sections, this::origin);
    }
}

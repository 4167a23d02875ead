package dev.montage.runtime.config;

import java.util.List;
import java.util.Map;

/**
 * A checked profile with where each of its values came from.
 *
 * @param profile the values
 * @param layers  the profile names or files, weakest first
 * @param origins dotted key to source ({@code file:line}, variable, flag); keys not in it have their built-in
 *                default
 */
public record ResolvedProfile(Profile profile, List<String> layers, Map<String, String> origins) {

    public ResolvedProfile {
        layers = List.copyOf(layers);
        origins = Map.copyOf(origins);
    }

    /** Where a key was set, or {@value ProfileResolver#DEFAULTS_SOURCE}. */
    public String origin(String key) {
        return SettingsTree.origin(origins, key, ProfileResolver.DEFAULTS_SOURCE);
    }

    /** The resolved profile as YAML, each value with where it came from; reading it back gives the same profile. */
    public String describe() {
        return "# profile: " + (layers.isEmpty() ? "(built-in defaults only)" : String.join(",", layers)) + "\n"
                + ProfileWriter.write(profile, this::origin);
    }
}

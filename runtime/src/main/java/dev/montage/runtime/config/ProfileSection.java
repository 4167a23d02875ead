package dev.montage.runtime.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;

/**
 * A profile section that a host of the runtime owns (a server's settings, say): the runtime does not use it, but
 * once a host registers it ({@link ProfileResolver#section}) the resolver treats it as one of its own sections. It
 * is layered with the others, its keys are overridden by {@code MONTAGE_<SECTION>_<KEY>} environment variables and
 * by settings by dotted key, its relative paths are taken from the profile file's folder, every unknown key (with
 * the closest known one) and every value of the wrong type is a problem naming its source, the host's checks report
 * theirs the same way, and {@link ResolvedProfile#describe()} writes it. {@link ResolvedProfile#section} gives the
 * bound values.
 *
 * @param name     its key at the top of a profile, e.g. {@code server}
 * @param type     the record declaring its keys as the runtime's section records do: components in snake case are
 *                 the keys, of type {@code String}, {@code int}, {@code double}, {@code boolean}, {@code Path},
 *                 {@code Optional} of one of those (a key that may stay unset), {@code Map<String, ...>} of one of
 *                 those (keys of the user's choosing) or a nested record (a section inside it); the record must be
 *                 public
 * @param defaults YAML of a profile holding this section alone, with the built-in value of each of its keys that is
 *                 not an {@code Optional}, {@code Map} or nested record; comments may say what each key means
 * @param checks   the checks of the bound values beyond their types, each problem reported by its dotted key (e.g.
 *                 {@code server.port}) to the {@link ProfileChecks}, which names where the value came from
 * @param <T>      the record
 */
public record ProfileSection<T extends Record>(String name, Class<T> type, String defaults,
        BiConsumer<T, ProfileChecks> checks) {
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]*");

    /**
     * @throws IllegalArgumentException when the name is not a lower-case key, it is one of the runtime's sections,
     *                                  the record has a component of a type a profile cannot hold, or the defaults are
     *                                  not a profile holding this section alone
     */
    public ProfileSection {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(defaults, "defaults");
        Objects.requireNonNull(checks, "checks");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("profile section name '" + name + "': expected a key of lower-case "
                    + "letters, digits and '_' starting with a letter");
        }
        if (Schema.PROFILE.fields().containsKey(name)) {
            throw new IllegalArgumentException("profile section name '" + name + "': the runtime's own section has "
                    + "it; expected another name than " + String.join(", ", Schema.PROFILE.fields().keySet()));
        }
        try {
            Schema.of(type);
        } catch (IllegalStateException e) {
            throw new IllegalArgumentException("profile section '" + name + "': " + e.getMessage(), e);
        }
        List<ProfileProblem> problems = new ArrayList<>();
        SettingsTree tree = SettingsTree.parse(defaults, false, "the defaults of profile section '" + name + "'",
                Path.of("").toAbsolutePath(), problems, Schema.root(List.of()));
        tree.root().fieldNames().forEachRemaining(key -> {
            if (!key.equals(name)) {
                problems.add(new ProfileProblem(tree.origin(key, ""), key, "expected only the section " + name));
            }
        });
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("profile section '" + name + "': bad defaults: " + problems);
        }
    }

    /** Runs the checks on values of this section's record. */
    void check(Record values, ProfileChecks problems) {
        checks.accept(type.cast(values), problems);
    }
}

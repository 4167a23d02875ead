package dev.montage.api.spi;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The options given to one component or to one control, read through the {@link OptionSpec}s the component
 * declares: {@link #get} answers the given value as the declaration types it, or the declared default. The host
 * checks the given options against the declaration ({@link #check}) before the component is built or the control
 * preprocessed, so the getters find valid values; a component built another way (a test, an application) gets the
 * same named error from the getter.
 */
public final class Options {
    /** No options given: every option has its default. */
    public static final Options NONE = of("options", Map.of());

    private final String path;
    private final Map<String, String> given;

    private Options(String path, Map<String, String> given) {
        this.path = path;
        this.given = given;
    }

    /**
     * @param path  how messages name the options, e.g. {@code options.decoder}; an option is {@code <path>.<name>}
     * @param given option name to value, as written in a profile, request or command line
     */
    public static Options of(String path, Map<String, String> given) {
        return new Options(path, Collections.unmodifiableMap(new LinkedHashMap<>(given)));
    }

    /**
     * The value of an option: the given one, else the default.
     *
     * @throws IllegalArgumentException naming the option, what it takes and the value given; or, for an option
     *     without a default that is not given, saying that it is needed
     */
    public <T> T get(OptionSpec<T> spec) {
        return find(spec).orElseThrow(() -> new IllegalArgumentException(path + "." + spec.name() + ": not set and "
                + "without default; expected " + spec.expected() + " (" + spec.doc() + ")"));
    }

    /**
     * The value of an option: the given one, else the default, else empty.
     *
     * @throws IllegalArgumentException naming the option, what it takes and the value given
     */
    public <T> Optional<T> find(OptionSpec<T> spec) {
        String text = given.get(spec.name());
        if (text == null) {
            return spec.defaultValue();
        }
        try {
            return Optional.of(spec.parse(text));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(path + "." + spec.name() + ": " + e.getMessage(), e);
        }
    }

    /** The options as given, by name. */
    public Map<String, String> given() {
        return given;
    }

    /**
     * One given option that a declaration refuses.
     *
     * @param name    the option's name as given
     * @param message what is wrong and what was expected
     */
    public record Problem(String name, String message) {
    }

    /**
     * What is wrong with given options against a declaration, in name order: each option that is not declared (with
     * the declared name it is likely a typo of) and each value that its declaration refuses.
     *
     * @param declared the declared options; where several components receive the same options, all of theirs, and
     *                 a value is checked against every declaration of its name
     * @param owner    who declares them, for messages, e.g. {@code decoder 'sdxl-vae'}
     */
    public static List<Problem> check(Collection<? extends OptionSpec<?>> declared, Map<String, String> given,
            String owner) {
        List<String> names = declared.stream().map(OptionSpec::name).distinct().toList();
        List<Problem> problems = new ArrayList<>();
        new TreeMap<>(given).forEach((name, value) -> {
            if (!names.contains(name)) {
                String expected = names.isEmpty() ? "no options are declared by " + owner
                        : "expected an option of " + owner + ": " + String.join(", ", names);
                problems.add(new Problem(name, "unknown option" + Suggestions.didYouMean(name, names) + " ("
                        + expected + ")"));
                return;
            }
            for (OptionSpec<?> spec : declared) {
                if (spec.name().equals(name)) {
                    try {
                        spec.parse(value);
                    } catch (IllegalArgumentException e) {
                        problems.add(new Problem(name, e.getMessage()));
                        return;
                    }
                }
            }
        });
        return problems;
    }
}

package dev.montage.api.spi;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The options of one {@link ConditionPreprocessor} call, checked against the keys the preprocessor accepts, with
 * typed getters whose errors name the preprocessor, the option, what it accepts and what it got.
 *
 * <p>Every preprocessor also accepts {@value #PREPROCESS} ({@code auto}, the default, or {@code none}: the picture
 * is used as it is, only converted to RGB and resized), the same option a request's control carries.
 */
public final class PreprocessorOptions {
    /** The option that turns a preprocessor off for a ready-made control image. */
    public static final String PREPROCESS = "preprocess";

    private final String type;
    private final Map<String, String> options;

    private PreprocessorOptions(String type, Map<String, String> options) {
        this.type = type;
        this.options = options;
    }

    /**
     * @param type     the preprocessor's control type, named in errors
     * @param options  the options as given
     * @param accepted the option keys the preprocessor knows (besides {@value #PREPROCESS})
     * @throws IllegalArgumentException naming the first unknown option, the accepted one it is likely a typo of and
     *     every accepted one
     */
    public static PreprocessorOptions of(String type, Map<String, String> options, Collection<String> accepted) {
        Map<String, String> given = Map.copyOf(options == null ? Map.of() : options);
        List<String> known = new ArrayList<>(accepted);
        known.add(PREPROCESS);
        for (String key : given.keySet().stream().sorted().toList()) {
            if (!known.contains(key)) {
                throw new IllegalArgumentException(type + ": unknown option '" + key + "'"
                        + Suggestions.didYouMean(key, known) + " (accepted options: " + String.join(", ", known) + ")");
            }
        }
        return new PreprocessorOptions(type, given);
    }

    /** Whether {@value #PREPROCESS} is {@code none}: the picture is to be passed through unchanged. */
    public boolean passThrough() {
        return choice(PREPROCESS, "auto", "auto", "none").equals("none");
    }

    /** The option's value if given. */
    public Optional<String> string(String key) {
        return Optional.ofNullable(options.get(key));
    }

    /**
     * One of a fixed set of values.
     *
     * @throws IllegalArgumentException naming the option, the accepted values and the value given
     */
    public String choice(String key, String defaultValue, String... accepted) {
        String value = options.get(key);
        if (value == null) {
            return defaultValue;
        }
        if (!Arrays.asList(accepted).contains(value)) {
            throw invalid(key, "one of " + String.join(", ", accepted), value);
        }
        return value;
    }

    /**
     * {@code true} or {@code false}.
     *
     * @throws IllegalArgumentException naming the option and the value given
     */
    public boolean flag(String key, boolean defaultValue) {
        return Boolean.parseBoolean(choice(key, Boolean.toString(defaultValue), "true", "false"));
    }

    /**
     * A finite number in {@code min..max}.
     *
     * @throws IllegalArgumentException naming the option, the range and the value given
     */
    public double number(String key, double defaultValue, double min, double max) {
        String value = options.get(key);
        if (value == null) {
            return defaultValue;
        }
        double x;
        try {
            x = Double.parseDouble(value.trim());
        } catch (NumberFormatException e) {
            throw invalid(key, "a number in " + format(min) + ".." + format(max), value);
        }
        if (!(x >= min && x <= max)) {
            throw invalid(key, "a number in " + format(min) + ".." + format(max), value);
        }
        return x;
    }

    /**
     * An integer in {@code min..max}.
     *
     * @throws IllegalArgumentException naming the option, the range and the value given
     */
    public int integer(String key, int defaultValue, int min, int max) {
        String value = options.get(key);
        if (value == null) {
            return defaultValue;
        }
        try {
            int x = Integer.parseInt(value.trim());
            if (x >= min && x <= max) {
                return x;
            }
        } catch (NumberFormatException e) {
            // reported below with the accepted range
        }
        throw invalid(key, "an integer in " + min + ".." + max, value);
    }

    /** An error naming the option, what it accepts and the value given. */
    public IllegalArgumentException invalid(String key, String accepted, String value) {
        return new IllegalArgumentException(type + ": option '" + key + "' must be " + accepted + ", got '" + value
                + "'");
    }

    private static String format(double x) {
        return x == Math.rint(x) && Math.abs(x) < 1e15 ? Long.toString((long) x) : Double.toString(x);
    }
}

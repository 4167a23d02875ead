package dev.montage.api.spi;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * One option a component takes: its name, type, default, range and a line of documentation. A
 * {@link ComponentFactory} declares the options of its component ({@link ComponentFactory#options()}, given in the
 * profile section {@code options.<slot>}), a {@link ConditionPreprocessor} those of each control
 * ({@link ConditionPreprocessor#options()}). The host checks every given option against the declaration before
 * anything is built or generated ({@link Options#check}); the component reads the values with {@link Options#get}.
 *
 * <p>Values are given as text, as profiles, requests and the command line write them. Booleans and choices are
 * matched without regard to case; numbers may be {@code inf} or {@code -inf} where the range allows them.
 *
 * @param <T> what {@link Options#get} returns: {@link String} for strings and choices of text, {@link Integer},
 *            {@link Double}, {@link Boolean}, or the enum of a choice made of an enum's constants
 */
public final class OptionSpec<T> {

    /** The kinds of value an option takes. */
    public enum Type {
        STRING, INTEGER, NUMBER, BOOLEAN, ENUM;

        /** The name in listings, e.g. {@code integer}. */
        public String configName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final String name;
    private final Type type;
    private final String doc;
    private final T defaultValue;
    private final List<String> choices;
    private final double min;
    private final double max;
    private final Pattern pattern;
    private final String form;
    private final Function<String, T> convert;

    private OptionSpec(String name, Type type, String doc, T defaultValue, List<String> choices, double min,
            double max, Pattern pattern, String form, Function<String, T> convert) {
        if (name == null || !name.matches("[a-z][a-z0-9_]*")) {
            throw new IllegalArgumentException("an option name is lower-case letters, digits and '_', starting with "
                    + "a letter, e.g. timestep_spacing; got '" + name + "'");
        }
        this.name = name;
        this.type = type;
        this.doc = Objects.requireNonNull(doc, "doc");
        this.defaultValue = defaultValue;
        this.choices = List.copyOf(choices);
        this.min = min;
        this.max = max;
        this.pattern = pattern;
        this.form = form;
        this.convert = convert;
    }

    /** Any text. */
    public static OptionSpec<String> string(String name, String doc) {
        return new OptionSpec<>(name, Type.STRING, doc, null, List.of(), 0, 0, null, null, Function.identity());
    }

    /**
     * Text of a given form.
     *
     * @param regex what the whole value must match
     * @param form  the form in words, for messages and listings, e.g. {@code "a colour as #rrggbb"}
     */
    public static OptionSpec<String> string(String name, String regex, String form, String doc) {
        return new OptionSpec<>(name, Type.STRING, doc, null, List.of(), 0, 0, Pattern.compile(regex),
                Objects.requireNonNull(form, "form"), Function.identity());
    }

    /** An integer in {@code min..max}. */
    public static OptionSpec<Integer> integer(String name, int min, int max, String doc) {
        if (min > max) {
            throw new IllegalArgumentException("option '" + name + "': empty range " + min + ".." + max);
        }
        return new OptionSpec<>(name, Type.INTEGER, doc, null, List.of(), min, max, null, null, Integer::valueOf);
    }

    /** A number in {@code min..max}, either end possibly infinite. */
    public static OptionSpec<Double> number(String name, double min, double max, String doc) {
        if (!(min <= max)) {
            throw new IllegalArgumentException("option '" + name + "': empty range " + min + ".." + max);
        }
        return new OptionSpec<>(name, Type.NUMBER, doc, null, List.of(), min, max, null, null, Double::valueOf);
    }

    /** {@code true} or {@code false}. */
    public static OptionSpec<Boolean> bool(String name, String doc) {
        return new OptionSpec<>(name, Type.BOOLEAN, doc, null, List.of("true", "false"), 0, 0, null, null,
                Boolean::valueOf);
    }

    /** One of fixed words, read as the word. */
    public static OptionSpec<String> choice(String name, Collection<String> choices, String doc) {
        return new OptionSpec<>(name, Type.ENUM, doc, null, new ArrayList<>(choices), 0, 0, null, null,
                Function.identity());
    }

    /** One of an enum's constants, written as their names in lower case (e.g. {@code always} for ALWAYS). */
    public static <E extends Enum<E>> OptionSpec<E> choice(String name, Class<E> type, String doc) {
        Map<String, E> byWord = new LinkedHashMap<>();
        for (E constant : type.getEnumConstants()) {
            byWord.put(constant.name().toLowerCase(Locale.ROOT), constant);
        }
        return new OptionSpec<>(name, Type.ENUM, doc, null, new ArrayList<>(byWord.keySet()), 0, 0, null, null,
                byWord::get);
    }

    /**
     * The same option with a default, the value of an option not given.
     *
     * @throws IllegalArgumentException when the default is not a value of the option
     */
    public OptionSpec<T> withDefault(T value) {
        T checked = parse(format(Objects.requireNonNull(value, "value")));
        return new OptionSpec<>(name, type, doc, checked, choices, min, max, pattern, form, convert);
    }

    /** The name, as given in {@code options.<slot>.<name>} or a control's options. */
    public String name() {
        return name;
    }

    /** What kind of value it takes. */
    public Type type() {
        return type;
    }

    /** One line saying what it does. */
    public String doc() {
        return doc;
    }

    /** The value when it is not given; empty when the component then does without it. */
    public Optional<T> defaultValue() {
        return Optional.ofNullable(defaultValue);
    }

    /** The words a choice or a boolean takes, else empty. */
    public List<String> choices() {
        return choices;
    }

    /**
     * What it accepts, besides its type, for listings: {@code 1..2147483647} for numbers (empty when unbounded),
     * {@code auto|always|never} for choices, the form of a string (empty for any text).
     */
    public Optional<String> range() {
        return switch (type) {
            case INTEGER, NUMBER -> min == lowest() && max == highest() ? Optional.empty()
                    : Optional.of(number(min) + ".." + number(max));
            case ENUM -> Optional.of(String.join("|", choices));
            case STRING -> Optional.ofNullable(form);
            case BOOLEAN -> Optional.empty();
        };
    }

    /** What a value must be, as messages say it after "expected", e.g. {@code an integer in 1..77}. */
    public String expected() {
        return switch (type) {
            case STRING -> form == null ? "any text" : form;
            case INTEGER -> "an integer" + (range().isEmpty() ? "" : " in " + range().get());
            case NUMBER -> "a number" + (range().isEmpty() ? "" : " in " + range().get());
            case BOOLEAN -> "true or false";
            case ENUM -> choices.isEmpty() ? "one of the installed choices (there is none)"
                    : "one of " + String.join(", ", choices);
        };
    }

    /** The option in one line: name, type, range, default and doc, e.g. for {@code montage profile check}. */
    public String describe() {
        StringBuilder s = new StringBuilder(name).append(" (").append(type.configName());
        range().ifPresent(r -> s.append(' ').append(r));
        defaultValue().ifPresent(d -> s.append(", default ").append(format(d)));
        return s.append("): ").append(doc).toString();
    }

    /**
     * The value of a given text.
     *
     * @throws IllegalArgumentException saying what was expected and what was given
     */
    public T parse(String text) {
        String value = text == null ? "" : text.trim();
        String canonical = switch (type) {
            case STRING -> pattern == null || pattern.matcher(value).matches() ? value : null;
            case INTEGER -> integerText(value);
            case NUMBER -> numberText(value);
            case BOOLEAN, ENUM -> choices.stream().filter(c -> c.equalsIgnoreCase(value)).findFirst().orElse(null);
        };
        if (canonical == null) {
            throw new IllegalArgumentException("expected " + expected() + ", got '" + text + "'");
        }
        return convert.apply(canonical);
    }

    /** A value as it is written in profiles and requests (the inverse of {@link #parse}). */
    public String format(T value) {
        if (value instanceof Enum<?> e) {
            return e.name().toLowerCase(Locale.ROOT);
        }
        if (value instanceof Double d) {
            return number(d);
        }
        return String.valueOf(value);
    }

    @Override
    public String toString() {
        return describe();
    }

    private String integerText(String value) {
        try {
            int x = Integer.parseInt(value);
            return x >= min && x <= max ? Integer.toString(x) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private String numberText(String value) {
        String lower = value.toLowerCase(Locale.ROOT);
        double x;
        if (lower.equals("inf") || lower.equals("+inf") || lower.equals("infinity")) {
            x = Double.POSITIVE_INFINITY;
        } else if (lower.equals("-inf") || lower.equals("-infinity")) {
            x = Double.NEGATIVE_INFINITY;
        } else {
            try {
                x = Double.parseDouble(value);
            } catch (NumberFormatException e) {
                return null;
            }
        }
        // NaN fails both comparisons
        return x >= min && x <= max ? Double.toString(x) : null;
    }

    private double lowest() {
        return type == Type.INTEGER ? Integer.MIN_VALUE : Double.NEGATIVE_INFINITY;
    }

    private double highest() {
        return type == Type.INTEGER ? Integer.MAX_VALUE : Double.POSITIVE_INFINITY;
    }

    private static String number(double x) {
        if (Double.isInfinite(x)) {
            return x > 0 ? "inf" : "-inf";
        }
        return x == Math.rint(x) && Math.abs(x) < 1e15 ? Long.toString((long) x) : Double.toString(x);
    }
}

package dev.montage.plugins.schedulers;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Suggestions;
import java.math.BigDecimal;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * A scheduler's settings as diffusers' {@code from_config} sees them: the model folder's
 * {@code scheduler_config.json}, with profile options and request overrides laid on top. Each scheduler reads
 * the keys it knows, with diffusers' defaults for missing ones, and ignores the rest (the SDXL file is written
 * for Euler and also drives DDIM and DPM-Solver++).
 *
 * <p>Every value remembers where it came from, so an error names the file or override and the key. Overrides
 * may give numbers and booleans as strings; an override key that no supported scheduler knows is refused as a
 * probable typo. Once {@link #forScheduler} has named what a scheduler reads and what its id fixes, a request's
 * {@link #override} is held to those: it may not give a setting the scheduler would not read, nor change a fixed one.
 */
final class SchedulerSettings {

    /**
     * The {@code __init__} arguments of diffusers' (0.23) EulerDiscrete, DDIM, DPMSolverMultistep, UniPCMultistep and
     * LCM schedulers, the {@code use_exponential_sigmas} and {@code use_beta_sigmas} of later diffusers, DDIM's
     * {@code eta}, which diffusers' pipelines take as a call argument, and {@code use_kl_optimal_sigmas} and
     * {@code use_align_your_steps_sigmas}, whose levels diffusers takes as the pipelines' {@code sigmas} argument.
     */
    static final Set<String> KNOWN_KEYS = Set.of("num_train_timesteps", "beta_start", "beta_end", "beta_schedule",
            "trained_betas", "prediction_type", "interpolation_type", "use_karras_sigmas", "use_exponential_sigmas",
            "use_beta_sigmas", "use_kl_optimal_sigmas", "use_align_your_steps_sigmas", "timestep_spacing",
            "steps_offset", "clip_sample", "clip_sample_range", "set_alpha_to_one", "thresholding",
            "dynamic_thresholding_ratio", "sample_max_value", "rescale_betas_zero_snr", "solver_order",
            "algorithm_type", "solver_type", "lower_order_final", "euler_at_final", "use_lu_lambdas",
            "lambda_min_clipped", "variance_type", "eta", "original_inference_steps", "timestep_scaling", "predict_x0",
            "disable_corrector");

    private record Entry(Object value, String source) {
    }

    private final Map<String, Entry> entries;
    /** What the scheduler reads, or null before {@link #forScheduler} names it. */
    private final List<String> reads;
    /** The settings the scheduler's id fixes. */
    private final Set<String> fixed;

    private SchedulerSettings(Map<String, Entry> entries, List<String> reads, Set<String> fixed) {
        this.entries = entries;
        this.reads = reads;
        this.fixed = fixed;
    }

    /** The settings of a {@code scheduler_config.json}. */
    static SchedulerSettings of(ModelConfig file) {
        Map<String, Entry> entries = new LinkedHashMap<>();
        file.asMap().forEach((key, value) -> {
            if (value != null) {
                entries.put(key, new Entry(value, file.source()));
            }
        });
        return new SchedulerSettings(entries, null, Set.of());
    }

    /**
     * These settings with {@code overrides} laid on top; a null value restores the default.
     *
     * @param source where the overrides come from, for messages (e.g. "profile options")
     * @throws IllegalArgumentException naming a key that no supported scheduler knows
     */
    SchedulerSettings with(String source, Map<String, ?> overrides) {
        Map<String, Entry> merged = new LinkedHashMap<>(entries);
        overrides.forEach((key, value) -> {
            if (!KNOWN_KEYS.contains(key)) {
                throw new IllegalArgumentException(source + ": unknown scheduler setting '" + key + "' (known: "
                        + String.join(", ", new TreeSet<>(KNOWN_KEYS)) + ")");
            }
            if (value == null) {
                merged.remove(key);
            } else {
                merged.put(key, new Entry(value, source));
            }
        });
        return new SchedulerSettings(merged, reads, fixed);
    }

    /**
     * These settings with the ones a scheduler id fixes laid on top, held to what that scheduler reads from now on.
     *
     * @param source   the scheduler id, for messages (e.g. "scheduler id 'euler-karras'")
     * @param settings the settings the id fixes
     * @param options  the settings the scheduler reads
     */
    SchedulerSettings forScheduler(String source, Map<String, ?> settings, List<OptionSpec<?>> options) {
        SchedulerSettings laid = with(source, settings);
        return new SchedulerSettings(laid.entries, options.stream().map(OptionSpec::name).toList(),
                Set.copyOf(settings.keySet()));
    }

    /**
     * These settings with a request's laid on top.
     *
     * @throws IllegalArgumentException naming a setting the scheduler does not read (with the closest it does), one
     *     whose value its id fixes otherwise, or one no supported scheduler knows
     */
    SchedulerSettings override(Map<String, ?> overrides) {
        overrides.forEach((key, value) -> {
            if (reads != null && !reads.contains(key)) {
                throw new IllegalArgumentException("this scheduler does not read '" + key + "'"
                        + Suggestions.didYouMean(key, reads) + " (it reads: " + String.join(", ", reads) + ")");
            }
            Entry current = entries.get(key);
            if (fixed.contains(key) && !String.valueOf(value).equalsIgnoreCase(String.valueOf(current.value()))) {
                throw new IllegalArgumentException(current.source() + " fixes '" + key + "' = " + current.value()
                        + "; a request cannot change it (another scheduler id has the other value)");
            }
        });
        return with("request's scheduler options", overrides);
    }

    /** An integer setting. */
    int integer(String key, int defaultValue) {
        Entry e = entries.get(key);
        if (e == null) {
            return defaultValue;
        }
        double d = parseNumber(key, e, "an integer");
        if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
            throw invalid(key, "an integer");
        }
        return (int) d;
    }

    /**
     * An integer setting within {@code min..max}, for the sizes that arrays are made of.
     *
     * @throws IllegalArgumentException naming the key, its source, the range and the value when it is outside
     */
    int integer(String key, int defaultValue, int min, int max) {
        int value = integer(key, defaultValue);
        if (value < min || value > max) {
            throw invalid(key, "an integer in " + min + ".." + max);
        }
        return value;
    }

    /** A number setting. */
    double number(String key, double defaultValue) {
        Entry e = entries.get(key);
        return e == null ? defaultValue : parseNumber(key, e, "a number");
    }

    /** A number setting in {@code min..max}. */
    double number(String key, double defaultValue, double min, double max) {
        double value = number(key, defaultValue);
        if (!(value >= min && value <= max)) {
            throw invalid(key, "a number in " + BigDecimal.valueOf(min).stripTrailingZeros().toPlainString() + ".."
                    + BigDecimal.valueOf(max).stripTrailingZeros().toPlainString());
        }
        return value;
    }

    /** A boolean setting ({@code true}/{@code false}, or those words as a string). */
    boolean flag(String key, boolean defaultValue) {
        Entry e = entries.get(key);
        if (e == null) {
            return defaultValue;
        }
        if (e.value() instanceof Boolean b) {
            return b;
        }
        if (e.value() instanceof String s && (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false"))) {
            return Boolean.parseBoolean(s);
        }
        throw invalid(key, "true or false");
    }

    /** A string setting, or {@code defaultValue} (may be null) when it is missing. */
    String text(String key, String defaultValue) {
        Entry e = entries.get(key);
        if (e == null) {
            return defaultValue;
        }
        if (e.value() instanceof String s) {
            return s;
        }
        throw invalid(key, "a string");
    }

    /**
     * A string setting that must be one of {@code allowed}.
     *
     * @param defaultValue the value when the key is missing, or null for "none"
     * @return the value, or {@code defaultValue}
     */
    String choice(String key, String defaultValue, List<String> allowed) {
        Entry e = entries.get(key);
        if (e == null) {
            return defaultValue;
        }
        if (e.value() instanceof String s && allowed.contains(s)) {
            return s;
        }
        throw invalid(key, "one of " + String.join(", ", allowed));
    }

    /** A list of numbers as float32 (as {@code torch.tensor(list, dtype=float32)} takes it), if present. */
    Optional<float[]> floats(String key) {
        Entry e = entries.get(key);
        if (e == null) {
            return Optional.empty();
        }
        if (!(e.value() instanceof List<?> list) || !list.stream().allMatch(o -> o instanceof Number)) {
            throw invalid(key, "a list of numbers");
        }
        float[] out = new float[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) list.get(i)).floatValue();
        }
        return Optional.of(out);
    }

    /**
     * A list of step indices (whole numbers from 0), empty when missing: a list in a configuration file, or text such
     * as {@code "0, 2"} from a profile option or a request.
     */
    int[] indices(String key) {
        String expected = "a list of step indices (whole numbers from 0)";
        Entry e = entries.get(key);
        if (e != null && e.value() instanceof String text) {
            try {
                int[] out = Arrays.stream(text.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
                if (Arrays.stream(out).anyMatch(i -> i < 0)) {
                    throw invalid(key, expected);
                }
                return out;
            } catch (NumberFormatException notWhole) {
                throw invalid(key, expected);
            }
        }
        Optional<float[]> values = floats(key);
        if (values.isEmpty()) {
            return new int[0];
        }
        int[] out = new int[values.get().length];
        for (int i = 0; i < out.length; i++) {
            float v = values.get()[i];
            if (v != Math.rint(v) || v < 0) {
                throw invalid(key, expected);
            }
            out[i] = (int) v;
        }
        return out;
    }

    /** Refuses dynamic {@code thresholding}, which none of these schedulers implements. */
    void refuseThresholding() {
        if (flag("thresholding", false)) {
            throw unsupported("thresholding", "dynamic thresholding is not implemented");
        }
    }

    /**
     * Refuses a value this port does not implement.
     *
     * @param why what is missing, for the message
     */
    IllegalArgumentException unsupported(String key, String why) {
        Entry e = entries.get(key);
        return new IllegalArgumentException(e.source() + ": '" + key + "' = " + e.value()
                + " is not supported by Montage's schedulers (" + why + ")");
    }

    /** An error naming the key, its source and its value. */
    IllegalArgumentException invalid(String key, String expected) {
        Entry e = entries.get(key);
        String where = e == null ? "scheduler settings" : e.source();
        Object value = e == null ? null : e.value();
        return new IllegalArgumentException(where + ": '" + key + "' must be " + expected + ", got "
                + (value instanceof String ? "'" + value + "'" : value));
    }

    private double parseNumber(String key, Entry e, String expected) {
        if (e.value() instanceof Number n) {
            return n.doubleValue();
        }
        if (e.value() instanceof String s) {
            String t = s.trim().toLowerCase(Locale.ROOT);
            if (t.equals("-inf") || t.equals("inf")) {
                return t.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
            }
            try {
                return Double.parseDouble(t);
            } catch (NumberFormatException ignored) {
                // reported below with the key
            }
        }
        throw invalid(key, expected);
    }
}

package dev.montage.api.host;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model's {@code config.json} with typed lookups whose errors name the file, the key and what was expected,
 * so that one model class can be driven by the tiny test configuration and the real one alike.
 */
public final class ModelConfig {
    /**
     * The largest channel count or hidden width a configuration may ask for: 65536, far above the 5120 of SDXL's
     * widest layer, and small enough that sizes computed from it stay far from integer overflow.
     */
    public static final int MAX_WIDTH = 1 << 16;
    /** The most layers or blocks any one stack may have: 100 (CLIP bigG stacks 48, SDXL at most 10 transformers). */
    public static final int MAX_LAYERS = 100;
    /** The most resolution levels a network may have: 8 (SDXL's UNet has 3, its VAE 4), each halving the image. */
    public static final int MAX_LEVELS = 8;

    private final String source;
    private final Map<String, Object> values;

    /**
     * @param source the file the values come from, for messages
     * @param values the parsed JSON object (objects as maps, arrays as lists, numbers as {@link Number})
     */
    public ModelConfig(String source, Map<String, Object> values) {
        this.source = source;
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** Where the values come from. */
    public String source() {
        return source;
    }

    /** All values. */
    public Map<String, Object> asMap() {
        return values;
    }

    /** Whether the key is present and not null. */
    public boolean has(String key) {
        return values.get(key) != null;
    }

    /** A required integer. */
    public int getInt(String key) {
        return toInt(key, require(key));
    }

    /** An optional integer. */
    public int getInt(String key, int defaultValue) {
        return has(key) ? getInt(key) : defaultValue;
    }

    /**
     * A required integer within {@code min..max}: the bound that keeps a size read from a file from asking for
     * unbounded work or memory before any weight is read.
     *
     * @throws IllegalArgumentException naming the source, the key, the range and the value when it is outside
     */
    public int getInt(String key, int min, int max) {
        return inRange(key, getInt(key), min, max);
    }

    /** An optional integer within {@code min..max}; the default is not checked. */
    public int getInt(String key, int defaultValue, int min, int max) {
        return has(key) ? getInt(key, min, max) : defaultValue;
    }

    /** A required number. */
    public double getDouble(String key) {
        Object v = require(key);
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw wrongType(key, "a number", v);
    }

    /** An optional number. */
    public double getDouble(String key, double defaultValue) {
        return has(key) ? getDouble(key) : defaultValue;
    }

    /** A required string. */
    public String getString(String key) {
        Object v = require(key);
        if (v instanceof String s) {
            return s;
        }
        throw wrongType(key, "a string", v);
    }

    /** An optional string. */
    public String getString(String key, String defaultValue) {
        return has(key) ? getString(key) : defaultValue;
    }

    /** An optional boolean. */
    public boolean getBoolean(String key, boolean defaultValue) {
        if (!has(key)) {
            return defaultValue;
        }
        Object v = values.get(key);
        if (v instanceof Boolean b) {
            return b;
        }
        throw wrongType(key, "true or false", v);
    }

    /** A required list of integers. */
    public List<Integer> getIntList(String key) {
        Object v = require(key);
        if (!(v instanceof List<?> list)) {
            throw wrongType(key, "a list of integers", v);
        }
        List<Integer> out = new ArrayList<>(list.size());
        for (Object o : list) {
            out.add(toInt(key, o));
        }
        return List.copyOf(out);
    }

    /**
     * A required list of integers, each within {@code min..max}.
     *
     * @throws IllegalArgumentException as {@link #getInt(String, int, int)}, naming the entry
     */
    public List<Integer> getIntList(String key, int min, int max) {
        List<Integer> list = getIntList(key);
        for (int value : list) {
            inRange(key, value, min, max);
        }
        return list;
    }

    /**
     * An integer-or-list value (diffusers allows e.g. {@code attention_head_dim: 8} or {@code [5, 10, 20]}),
     * expanded to {@code count} entries.
     */
    public List<Integer> getIntOrList(String key, int count) {
        Object v = require(key);
        if (v instanceof Number) {
            return Collections.nCopies(count, getInt(key));
        }
        List<Integer> list = getIntList(key);
        if (list.size() != count) {
            throw new IllegalArgumentException(source + ": '" + key + "' must have " + count + " entries, got " + list);
        }
        return list;
    }

    /** {@link #getIntOrList(String, int)} with every entry within {@code min..max}. */
    public List<Integer> getIntOrList(String key, int count, int min, int max) {
        List<Integer> list = getIntOrList(key, count);
        for (int value : list) {
            inRange(key, value, min, max);
        }
        return list;
    }

    /**
     * Checks the length of a list read under {@code key}.
     *
     * @return the list
     * @throws IllegalArgumentException naming the source, the key, the range and the length when it is outside
     */
    public <T> List<T> withEntries(String key, List<T> list, int min, int max) {
        if (list.size() < min || list.size() > max) {
            throw new IllegalArgumentException(source + ": '" + key + "' must hold " + min + ".." + max
                    + " entries, got " + list.size());
        }
        return list;
    }

    /**
     * Checks a value read under {@code key} against {@code min..max}.
     *
     * @return the value
     * @throws IllegalArgumentException naming the source, the key, the range and the value when it is outside
     */
    public int inRange(String key, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(source + ": '" + key + "' must be an integer in " + min + ".." + max
                    + ", got " + value);
        }
        return value;
    }

    /** A required list of strings. */
    public List<String> getStringList(String key) {
        Object v = require(key);
        if (!(v instanceof List<?> list) || !list.stream().allMatch(o -> o instanceof String)) {
            throw wrongType(key, "a list of strings", v);
        }
        return list.stream().map(String.class::cast).toList();
    }

    /** A nested object, if present. */
    @SuppressWarnings("unchecked")
    public Optional<ModelConfig> getObject(String key) {
        Object v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (!(v instanceof Map)) {
            throw wrongType(key, "an object", v);
        }
        return Optional.of(new ModelConfig(source + "#" + key, (Map<String, Object>) v));
    }

    private Object require(String key) {
        Object v = values.get(key);
        if (v == null) {
            throw new IllegalArgumentException(source + ": required key '" + key + "' is missing");
        }
        return v;
    }

    private int toInt(String key, Object v) {
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
                && Math.abs(n.doubleValue()) <= Integer.MAX_VALUE) {
            return n.intValue();
        }
        throw wrongType(key, "an integer", v);
    }

    private IllegalArgumentException wrongType(String key, String expected, Object actual) {
        return new IllegalArgumentException(source + ": '" + key + "' must be " + expected + ", got " + actual);
    }

    @Override
    public String toString() {
        return source;
    }
}

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

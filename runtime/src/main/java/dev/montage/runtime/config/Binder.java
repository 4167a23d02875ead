package dev.montage.runtime.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.montage.api.spi.Suggestions;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Turns a settings tree into a {@link Profile} and the records of the hosts' sections, reporting every unknown key
 * and every value of the wrong type. A value that cannot be used is replaced by its built-in default, so that the
 * checks that follow still see a whole profile and can report their own problems in the same run.
 */
final class Binder {
    /**
     * The bound values.
     *
     * @param sections the hosts' sections by name
     */
    record Bound(Profile profile, Map<String, Record> sections) {
    }

    private final Schema.Section root;
    private final SettingsTree tree;
    private final JsonNode defaults;
    private final List<ProfileProblem> problems;

    /**
     * @param root     the runtime's and the hosts' sections ({@link Schema#root})
     * @param defaults the built-in defaults, which hold every key that may not stay unset
     */
    Binder(Schema.Section root, SettingsTree tree, JsonNode defaults, List<ProfileProblem> problems) {
        this.root = root;
        this.tree = tree;
        this.defaults = defaults;
        this.problems = problems;
    }

    Bound bind() {
        unknownKeys(root, tree.root(), "");
        Object[] values = new Object[Schema.PROFILE.fields().size()];
        int i = 0;
        Map<String, Record> sections = new LinkedHashMap<>();
        for (Schema.Field f : root.fields().values()) {
            Object value = value(f.node(), tree.root().get(f.key()), defaults.get(f.key()), f.key());
            if (f.component() == null) {
                sections.put(f.key(), (Record) value);
            } else {
                values[i++] = value;
            }
        }
        return new Bound((Profile) Schema.PROFILE.create(values), sections);
    }

    private Object section(Schema.Section s, JsonNode node, JsonNode fallback, String prefix) {
        Map<String, Object> others = unknownKeys(s, node, prefix);
        Object[] values = new Object[s.fields().size()];
        int i = 0;
        for (Schema.Field f : s.fields().values()) {
            values[i++] = f.rest() ? others : value(f.node(), node.get(f.key()),
                    fallback == null ? null : fallback.get(f.key()), Schema.child(prefix, f.key()));
        }
        return s.create(values);
    }

    /**
     * Reports the keys that are not the section's own, or, where the section takes other keys, binds them.
     *
     * @return the other keys' values (empty when the section takes none)
     */
    private Map<String, Object> unknownKeys(Schema.Section s, JsonNode node, String prefix) {
        Map<String, Object> others = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (s.field(e.getKey()).isPresent()) {
                continue;
            }
            if (s.rest().isEmpty()) {
                unknown(prefix, e.getKey(), s);
            } else if (!e.getValue().isNull()) {
                Schema.Entries rest = (Schema.Entries) s.rest().get().node();
                Object x = scalar(rest.values(), e.getValue(), Schema.child(prefix, e.getKey()));
                if (x != null) {
                    others.put(e.getKey(), x);
                }
            }
        }
        return others;
    }

    private Object value(Schema.Node n, JsonNode v, JsonNode fallback, String key) {
        boolean unset = v == null || v.isNull();
        if (n instanceof Schema.Section s) {
            if (!unset && !v.isObject()) {
                problem(key, "expected a section with the keys " + s.keys() + ", got "
                        + SettingsTree.describe(v));
                unset = true;
            }
            JsonNode use = unset ? fallback : v;
            return section(s, use == null ? SettingsTree.MAPPER.createObjectNode() : use, fallback, key);
        }
        if (n instanceof Schema.Entries e) {
            Map<String, Object> map = new LinkedHashMap<>();
            if (unset) {
                return map;
            }
            if (!v.isObject()) {
                problem(key, "expected a section of names with " + e.values().expected() + " each, got "
                        + SettingsTree.describe(v));
                return map;
            }
            v.fields().forEachRemaining(entry -> {
                Object x = entry.getValue().isNull() ? null
                        : scalar(e.values(), entry.getValue(), Schema.child(key, entry.getKey()));
                if (x != null) {
                    map.put(entry.getKey(), x);
                }
            });
            return map;
        }
        if (n instanceof Schema.Items items) {
            return items(items.element(), unset ? fallback : v, key);
        }
        Schema.Leaf leaf = (Schema.Leaf) n;
        Object x = unset ? null : scalar(leaf.scalar(), v, key);
        if (leaf.optional()) {
            return Optional.ofNullable(x);
        }
        if (x == null) {
            if (fallback == null || fallback.isNull()) {
                throw new IllegalStateException("the built-in defaults lack " + key);
            }
            x = scalar(leaf.scalar(), fallback, key);
        }
        return x;
    }

    /** The bound elements of a list of sections; an element that is not a section is reported. */
    private List<Object> items(Schema.Section element, JsonNode v, String key) {
        List<Object> items = new ArrayList<>();
        if (v == null || v.isNull()) {
            return items;
        }
        if (!v.isArray()) {
            problem(key, "expected a list of sections with the keys " + element.keys() + ", got "
                    + SettingsTree.describe(v));
            return items;
        }
        for (int i = 0; i < v.size(); i++) {
            JsonNode item = v.get(i);
            String at = key + "[" + i + "]";
            if (!item.isObject()) {
                problem(at, "expected a section with the keys " + element.keys() + ", got "
                        + SettingsTree.describe(item));
                continue;
            }
            items.add(section(element, item, null, at));
        }
        return items;
    }

    /** The value, or null after reporting that it has the wrong type. */
    private Object scalar(Schema.Scalar s, JsonNode v, String key) {
        switch (s) {
            case TEXT:
                if (v.isValueNode()) {
                    return v.asText();
                }
                break;
            case INTEGER:
                if (v.isIntegralNumber() && v.canConvertToInt()) {
                    return v.intValue();
                }
                if (v.isTextual()) {
                    try {
                        return Integer.parseInt(v.asText().trim());
                    } catch (NumberFormatException e) {
                        // reported below
                    }
                }
                break;
            case NUMBER:
                if (v.isNumber()) {
                    return v.doubleValue();
                }
                if (v.isTextual()) {
                    try {
                        return Double.parseDouble(v.asText().trim());
                    } catch (NumberFormatException e) {
                        // reported below
                    }
                }
                break;
            case BOOLEAN:
                if (v.isBoolean()) {
                    return v.booleanValue();
                }
                if (v.isTextual() && v.asText().trim().matches("(?i)true|false")) {
                    return Boolean.parseBoolean(v.asText().trim());
                }
                break;
            case PATH:
                if (v.isTextual()) {
                    try {
                        return Path.of(v.asText());
                    } catch (InvalidPathException e) {
                        problem(key, "expected a path, got '" + v.asText() + "' (" + e.getReason() + ")");
                        return null;
                    }
                }
                break;
            default:
                throw new IllegalStateException("unknown scalar " + s);
        }
        problem(key, "expected " + s.expected() + ", got " + SettingsTree.describe(v));
        return null;
    }

    private void unknown(String prefix, String name, Schema.Section s) {
        String hint = Suggestions.closest(name, s.keys())
                .map(c -> "; did you mean " + Schema.child(prefix, c) + "?")
                .orElseGet(() -> Schema.keys(root).keySet().stream()
                        .filter(k -> k.endsWith("." + name) || k.equals(name))
                        .findFirst().map(k -> "; did you mean " + k + "?").orElse(""));
        problem(Schema.child(prefix, name), "unknown key" + hint + " (expected "
                + (prefix.isEmpty() ? "the sections " : "the keys of " + prefix + ": ")
                + String.join(", ", s.keys()) + ")");
    }

    private void problem(String key, String message) {
        problems.add(new ProfileProblem(tree.origin(key, ProfileResolver.DEFAULTS_SOURCE), key, message));
    }
}

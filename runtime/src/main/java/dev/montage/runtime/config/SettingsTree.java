package dev.montage.runtime.config;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Profile values as a tree, with where each key was set ({@code file:line}, an environment variable, a flag), so
 * that every problem found later can name its source. Layers merge key by key: sections merge deeply, any other
 * value replaces the earlier one, and {@code null} removes it. Keys that are alternatives for one choice replace each
 * other too: a later layer's {@code models.base} removes an earlier {@code models.random}, and the other way round.
 */
final class SettingsTree {
    static final ObjectMapper MAPPER = new ObjectMapper();
    /** Keys that make the same choice, each to its alternative; one layer setting both is a problem of the profile. */
    private static final Map<String, String> ALTERNATIVES = Map.of("models.base", "models.random", "models.random",
            "models.base");
    private static final JsonFactory JSON = ParserLimits.json().setCodec(MAPPER);
    private static final JsonFactory YAML = ParserLimits.yaml().setCodec(MAPPER);

    private ObjectNode root = MAPPER.createObjectNode();
    private final Map<String, String> origins = new HashMap<>();

    /** The values. */
    ObjectNode root() {
        return root;
    }

    /** Where a key, or the nearest section holding it, was set; {@code fallback} when nowhere. */
    String origin(String key, String fallback) {
        return origin(origins, key, fallback);
    }

    /** Where each key was set. */
    Map<String, String> origins() {
        return Map.copyOf(origins);
    }

    /** Says that every key of this tree comes from {@code source} (for the built-in defaults, whose lines say nothing). */
    void attributeAllTo(String source) {
        origins.replaceAll((k, o) -> source);
    }

    /** {@link #origin(String, String)} over a map of origins. */
    static String origin(Map<String, String> origins, String key, String fallback) {
        for (String k = key; !k.isEmpty(); k = k.contains(".") ? k.substring(0, k.lastIndexOf('.')) : "") {
            String o = origins.get(k);
            if (o != null) {
                return o;
            }
        }
        return fallback;
    }

    /**
     * Parses one profile file. Relative paths in it are resolved against {@code relativeTo}; problems of the text
     * itself (syntax, a key given twice) are added to {@code problems}.
     *
     * @param source the file's name in messages; keys are reported as {@code source:line}
     * @param root   the sections a profile may hold ({@link Schema#root}), which say which values are paths
     */
    static SettingsTree parse(String text, boolean json, String source, Path relativeTo,
            List<ProfileProblem> problems, Schema.Section root) {
        SettingsTree tree = new SettingsTree();
        try (JsonParser p = (json ? JSON : YAML).createParser(text)) {
            JsonToken first = p.nextToken();
            if (first == null || first == JsonToken.VALUE_NULL) {
                return tree;
            }
            if (first != JsonToken.START_OBJECT) {
                problems.add(new ProfileProblem(source + ":" + p.currentTokenLocation().getLineNr(), "",
                        "a profile is a mapping of sections (" + String.join(", ", root.fields().keySet())
                                + "), got " + describe(p.readValueAsTree())));
                return tree;
            }
            tree.root = tree.readObject(p, "", source, problems);
            if (p.nextToken() != null) {
                problems.add(new ProfileProblem(source + ":" + p.currentTokenLocation().getLineNr(), "", json
                        ? "unexpected text after the profile's object"
                        : "holds more than one YAML document; a profile is one document"));
            }
        } catch (JsonProcessingException e) {
            int line = ParserLimits.line(e);
            problems.add(new ProfileProblem(line > 0 ? source + ":" + line : source, "",
                    "not valid " + (json ? "JSON" : "YAML") + ": " + e.getOriginalMessage()));
        } catch (IOException e) {
            problems.add(new ProfileProblem(source, "", "cannot read: " + e.getMessage()));
        }
        resolvePaths(root, tree.root, relativeTo);
        return tree;
    }

    private ObjectNode readObject(JsonParser p, String prefix, String source, List<ProfileProblem> problems)
            throws IOException {
        ObjectNode node = MAPPER.createObjectNode();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            String key = Schema.child(prefix, name);
            String where = source + ":" + p.currentTokenLocation().getLineNr();
            JsonNode value = p.nextToken() == JsonToken.START_OBJECT ? readObject(p, key, source, problems)
                    : p.readValueAsTree();
            if (node.has(name)) {
                problems.add(new ProfileProblem(where, key, "is set twice in this file, expected it once"));
            }
            origins.put(key, where);
            node.set(name, value == null ? NullNode.getInstance() : value);
        }
        return node;
    }

    /** Lays {@code later} over this tree. */
    void merge(SettingsTree later) {
        root = merge(root, later.root, "", later.origins);
    }

    private ObjectNode merge(ObjectNode base, ObjectNode over, String prefix, Map<String, String> overOrigins) {
        ObjectNode out = MAPPER.createObjectNode();
        for (Iterator<Map.Entry<String, JsonNode>> it = over.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = Schema.child(prefix, e.getKey());
            JsonNode value = e.getValue();
            JsonNode earlier = base.get(e.getKey());
            if (value.isNull()) {
                forget(key);
            } else if (value instanceof ObjectNode section && earlier instanceof ObjectNode earlierSection) {
                out.set(e.getKey(), merge(earlierSection, section, key, overOrigins));
                origins.put(key, overOrigins.get(key));
            } else {
                forget(key);
                overOrigins.forEach((k, o) -> {
                    if (within(k, key)) {
                        origins.put(k, o);
                    }
                });
                out.set(e.getKey(), value);
            }
        }
        // keys of the later layer come first: where order matters (attention layer patterns) the later one wins
        for (Iterator<Map.Entry<String, JsonNode>> it = base.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = Schema.child(prefix, e.getKey());
            if (over.has(e.getKey())) {
                continue;
            }
            String alternative = ALTERNATIVES.get(key);
            if (alternative != null && over.hasNonNull(alternative.substring(prefix.length() + 1))) {
                forget(key);
            } else {
                out.set(e.getKey(), e.getValue());
            }
        }
        return out;
    }

    /** Sets one value, creating the sections on its path; {@code path} holds the unquoted names. */
    void set(List<String> path, String key, JsonNode value, String source) {
        ObjectNode node = root;
        for (String name : path.subList(0, path.size() - 1)) {
            JsonNode next = node.get(name);
            if (!(next instanceof ObjectNode)) {
                next = node.putObject(name);
            }
            node = (ObjectNode) next;
        }
        forget(key);
        node.set(path.get(path.size() - 1), value);
        origins.put(key, source);
        String alternative = ALTERNATIVES.get(key);
        if (alternative != null && !value.isNull()) {
            node.remove(alternative.substring(alternative.lastIndexOf('.') + 1));
            forget(alternative);
        }
    }

    private void forget(String key) {
        origins.keySet().removeIf(k -> within(k, key));
    }

    private static boolean within(String key, String section) {
        return key.equals(section) || key.startsWith(section + ".");
    }

    /** Makes the path values under a section absolute. */
    static void resolvePaths(Schema.Section section, ObjectNode node, Path relativeTo) {
        if (section.rest().filter(f -> ((Schema.Entries) f.node()).values() == Schema.Scalar.PATH).isPresent()) {
            List<String> others = new ArrayList<>();
            node.fieldNames().forEachRemaining(name -> {
                if (section.field(name).isEmpty() && node.get(name).isTextual()) {
                    others.add(name);
                }
            });
            others.forEach(name -> node.put(name, resolvePath(node.get(name).asText(), relativeTo)));
        }
        for (Schema.Field f : section.fields().values()) {
            if (f.rest()) {
                continue;
            }
            JsonNode v = node.get(f.key());
            if (v == null) {
                continue;
            }
            if (f.node() instanceof Schema.Section s && v instanceof ObjectNode o) {
                resolvePaths(s, o, relativeTo);
            } else if (f.node() instanceof Schema.Leaf l && l.scalar() == Schema.Scalar.PATH && v.isTextual()) {
                node.put(f.key(), resolvePath(v.asText(), relativeTo));
            } else if (f.node() instanceof Schema.Items items && v.isArray()) {
                v.forEach(item -> {
                    if (item instanceof ObjectNode o) {
                        resolvePaths(items.element(), o, relativeTo);
                    }
                });
            } else if (f.node() instanceof Schema.Entries en && en.values() == Schema.Scalar.PATH
                    && v instanceof ObjectNode entries) {
                entries.fields().forEachRemaining(e -> {
                    if (e.getValue().isTextual()) {
                        entries.put(e.getKey(), resolvePath(e.getValue().asText(), relativeTo));
                    }
                });
            }
        }
    }

    /** {@code ~} is the home folder; a relative path is taken from {@code relativeTo}. */
    static String resolvePath(String text, Path relativeTo) {
        String t = text.trim();
        if (t.equals("~") || t.startsWith("~/")) {
            t = System.getProperty("user.home") + t.substring(1);
        }
        try {
            Path p = Path.of(t);
            return (p.isAbsolute() ? p : relativeTo.resolve(p)).normalize().toString();
        } catch (InvalidPathException e) {
            // left as written: binding reports it with its key
            return text;
        }
    }

    /** A value as a message shows it. */
    static String describe(JsonNode v) {
        if (v == null || v.isNull()) {
            return "nothing";
        }
        if (v.isTextual()) {
            return "the text '" + v.asText() + "'";
        }
        if (v.isNumber() || v.isBoolean()) {
            return (v.isBoolean() ? "the boolean " : "the number ") + v.asText();
        }
        return v.isArray() ? "a list" : "a section";
    }
}

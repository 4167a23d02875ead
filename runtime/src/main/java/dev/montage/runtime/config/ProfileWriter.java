package dev.montage.runtime.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * Writes a profile as YAML in the order of its records, the hosts' sections after the runtime's, with a comment
 * saying where each value came from.
 */
final class ProfileWriter {
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z_/.][A-Za-z0-9_./:@+-]*");
    private static final Set<String> RESERVED = Set.of("true", "false", "null", "yes", "no", "on", "off", "y", "n");
    /** Values longer than this do not push every comment to the right. */
    private static final int MAX_ALIGN = 48;

    private record Line(String text, String comment) {
    }

    private ProfileWriter() {
    }

    /** @param sections the hosts' sections by name */
    static String write(Profile profile, Map<String, Record> sections, UnaryOperator<String> origin) {
        List<Line> lines = new ArrayList<>();
        section(Schema.PROFILE, profile, "", "", origin, lines);
        sections.forEach((name, values) -> {
            lines.add(new Line(name + ":", null));
            section(Schema.of(values.getClass()), values, name, "  ", origin, lines);
        });
        int width = lines.stream().filter(l -> l.comment() != null).mapToInt(l -> l.text().length())
                .filter(w -> w <= MAX_ALIGN).max().orElse(0);
        StringBuilder out = new StringBuilder();
        for (Line l : lines) {
            out.append(l.text());
            if (l.comment() != null) {
                out.append(" ".repeat(Math.max(1, width - l.text().length() + 2))).append("# ").append(l.comment());
            }
            out.append('\n');
        }
        return out.toString();
    }

    private static void section(Schema.Section s, Object record, String prefix, String indent,
            UnaryOperator<String> origin, List<Line> lines) {
        for (Schema.Field f : s.fields().values()) {
            String key = Schema.child(prefix, f.key());
            Object value = f.read(record);
            String head = indent + f.key() + ":";
            if (f.rest()) {
                ((Map<?, ?>) value).forEach((k, v) -> lines.add(new Line(indent + scalar(k) + ": " + scalar(v),
                        origin.apply(Schema.child(prefix, k.toString())))));
            } else if (f.node() instanceof Schema.Section sub) {
                lines.add(new Line(head, null));
                section(sub, value, key, indent + "  ", origin, lines);
            } else if (f.node() instanceof Schema.Items items) {
                List<?> list = (List<?>) value;
                lines.add(new Line(head + (list.isEmpty() ? " []" : ""), null));
                for (int i = 0; i < list.size(); i++) {
                    List<Line> item = new ArrayList<>();
                    section(items.element(), list.get(i), key + "[" + i + "]", indent + "    ", origin, item);
                    // YAML marks the first key of each list entry
                    Line first = item.get(0);
                    item.set(0, new Line(indent + "  - " + first.text().substring(indent.length() + 4),
                            first.comment()));
                    lines.addAll(item);
                }
            } else if (value instanceof Map<?, ?> map) {
                if (map.isEmpty()) {
                    lines.add(new Line(head + " {}", null));
                } else {
                    lines.add(new Line(head, null));
                    map.forEach((k, v) -> lines.add(new Line(indent + "  " + scalar(k) + ": " + scalar(v),
                            origin.apply(Schema.child(key, k.toString())))));
                }
            } else if (value instanceof Optional<?> optional && optional.isEmpty()) {
                lines.add(new Line(head + " null", "not set"));
            } else {
                Object v = value instanceof Optional<?> optional ? optional.get() : value;
                lines.add(new Line(head + " " + scalar(v), origin.apply(key)));
            }
        }
    }

    private static String scalar(Object v) {
        if (v instanceof Number || v instanceof Boolean) {
            return v.toString();
        }
        String text = v.toString();
        if (PLAIN.matcher(text).matches() && !RESERVED.contains(text.toLowerCase(Locale.ROOT))) {
            return text;
        }
        try {
            // a JSON string is a valid YAML double-quoted scalar
            return SettingsTree.MAPPER.writeValueAsString(text);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot quote " + text, e);
        }
    }
}

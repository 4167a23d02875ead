package dev.montage.runtime.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.lang.reflect.Constructor;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The keys a profile may hold, derived from records so that the records are the only place a key is declared: a
 * record is a section, its components in snake case are its keys; {@code Optional} marks a key that may stay unset,
 * a {@code Map} holds keys of the user's choosing, a {@code List} of records a list of sections, and a {@code Map} marked {@link Rest} holds the keys of its
 * section that are not the section's own (keys that plugins declare). The runtime's sections are the {@link Profile} records; a host
 * adds sections of its own ({@link ProfileSection}) beside them at the {@link #root root}.
 */
final class Schema {

    /** Marks the record component that collects the section's other keys, each with a scalar value. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.RECORD_COMPONENT)
    @interface Rest {
    }

    /** The value types of leaves. */
    enum Scalar {
        TEXT("text"),
        INTEGER("an integer"),
        NUMBER("a number"),
        BOOLEAN("true or false"),
        PATH("a path");

        private final String expected;

        Scalar(String expected) {
            this.expected = expected;
        }

        /** What a user should write, for messages. */
        String expected() {
            return expected;
        }
    }

    /** A node of the schema. */
    sealed interface Node permits Section, Leaf, Entries, Items {
    }

    /** A record: a fixed set of keys, and maybe a {@link Rest} field for the others. */
    record Section(Class<?> type, Map<String, Field> fields) implements Node {
        /** The section's own keys (the {@link Rest} field is none). */
        Set<String> keys() {
            Set<String> keys = new LinkedHashSet<>(fields.keySet());
            rest().ifPresent(f -> keys.remove(f.key()));
            return keys;
        }

        /** The field of a key of the section's own. */
        Optional<Field> field(String name) {
            return Optional.ofNullable(fields.get(name)).filter(f -> !f.rest());
        }

        /** The field that collects the other keys, if the section takes other keys. */
        Optional<Field> rest() {
            return fields.values().stream().filter(Field::rest).findFirst();
        }

        /** Creates the record from values in field order. */
        Object create(Object[] values) {
            try {
                Class<?>[] types = new Class<?>[fields.size()];
                int i = 0;
                for (Field f : fields.values()) {
                    types[i++] = f.component().getType();
                }
                Constructor<?> constructor = type.getDeclaredConstructor(types);
                return constructor.newInstance(values);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot create " + type.getName(), e);
            }
        }
    }

    /**
     * One key of a section, or its {@link Rest} field (whose node is {@link Entries}).
     *
     * @param component the record component it binds to; null for a host's section at the root, which is bound into
     *                  a record of its own
     */
    record Field(String key, RecordComponent component, Node node, boolean rest) {
        Object read(Object record) {
            try {
                return component.getAccessor().invoke(record);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read " + component, e);
            }
        }
    }

    /** A single value, which may be left unset when {@code optional}. */
    record Leaf(Scalar scalar, boolean optional) implements Node {
    }

    /** Keys of the user's choosing, each with a scalar value. */
    record Entries(Scalar values) implements Node {
    }

    /**
     * A list of sections of one kind (a {@code List} of records), e.g. {@code models.loras}. Entries have no built-in
     * defaults, so every key of the element is {@code Optional} and the validator reports the unset ones.
     */
    record Items(Section element) implements Node {
        Items {
            if (element.fields().values().stream().anyMatch(f -> !(f.node() instanceof Leaf l && l.optional()))) {
                throw new IllegalStateException(element.type() + " is a list entry, so its keys must be Optional");
            }
        }
    }

    /** The whole profile. */
    static final Section PROFILE = of(Profile.class);

    private static final Pattern PLAIN_KEY = Pattern.compile("[A-Za-z0-9_-]+");

    private Schema() {
    }

    /** {@code interopThreads} to {@code interop_threads}. */
    static String key(String componentName) {
        return componentName.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
    }

    /** The dotted key of a child; a key of the user's choosing that is not plain is quoted. */
    static String child(String parent, String name) {
        String part = PLAIN_KEY.matcher(name).matches() ? name : "\"" + name.replace("\"", "\\\"") + "\"";
        return parent.isEmpty() ? part : parent + "." + part;
    }

    /**
     * The top of a profile: the runtime's sections, then the hosts' sections in the order given. Only its fields are
     * used; it is never created as a record.
     */
    static Section root(Collection<ProfileSection<?>> hostSections) {
        Map<String, Field> fields = new LinkedHashMap<>(PROFILE.fields());
        for (ProfileSection<?> s : hostSections) {
            fields.put(s.name(), new Field(s.name(), null, of(s.type()), false));
        }
        return new Section(Profile.class, Collections.unmodifiableMap(fields));
    }

    /**
     * Every fixed key below {@code root} (sections and leaves, not the keys inside {@link Entries} or of a {@link Rest}
     * field) with its node, in order.
     */
    static Map<String, Node> keys(Section root) {
        Map<String, Node> all = new LinkedHashMap<>();
        collect(root, "", all);
        return Collections.unmodifiableMap(all);
    }

    /** The sections below {@code root} that take other keys, by dotted key, with the type of those keys' values. */
    static Map<String, Scalar> restSections(Section root) {
        Map<String, Scalar> all = new LinkedHashMap<>();
        collectRest(root, "", all);
        return Collections.unmodifiableMap(all);
    }

    private static void collectRest(Section section, String prefix, Map<String, Scalar> into) {
        section.rest().ifPresent(f -> into.put(prefix, ((Entries) f.node()).values()));
        for (Field f : section.fields().values()) {
            if (f.node() instanceof Section s) {
                collectRest(s, child(prefix, f.key()), into);
            }
        }
    }

    private static void collect(Section section, String prefix, Map<String, Node> into) {
        for (Field f : section.fields().values()) {
            if (f.rest()) {
                continue;
            }
            String k = child(prefix, f.key());
            into.put(k, f.node());
            if (f.node() instanceof Section s) {
                collect(s, k, into);
            }
        }
    }

    /**
     * The section a record declares.
     *
     * @throws IllegalStateException naming a component of a type a profile cannot hold
     */
    static Section of(Class<?> type) {
        Map<String, Field> fields = new LinkedHashMap<>();
        for (RecordComponent c : type.getRecordComponents()) {
            String k = key(c.getName());
            boolean rest = c.isAnnotationPresent(Rest.class);
            Node node = node(c.getGenericType());
            if (rest && !(node instanceof Entries)) {
                throw new IllegalStateException(c + " collects other keys, so it must be a Map<String, ...>");
            }
            fields.put(k, new Field(k, c, node, rest));
        }
        return new Section(type, Collections.unmodifiableMap(fields));
    }

    private static Node node(Type type) {
        if (type instanceof ParameterizedType p) {
            Class<?> raw = (Class<?>) p.getRawType();
            Type[] args = p.getActualTypeArguments();
            if (raw == Optional.class) {
                return new Leaf(scalar((Class<?>) args[0]), true);
            }
            if (raw == Map.class && args[0] == String.class) {
                return new Entries(scalar((Class<?>) args[1]));
            }
            if (raw == List.class && args[0] instanceof Class<?> element && element.isRecord()) {
                return new Items(of(element));
            }
            throw new IllegalStateException("profile records cannot use " + type);
        }
        Class<?> c = (Class<?>) type;
        return c.isRecord() ? of(c) : new Leaf(scalar(c), false);
    }

    private static Scalar scalar(Class<?> c) {
        if (c == String.class) {
            return Scalar.TEXT;
        }
        if (c == int.class) {
            return Scalar.INTEGER;
        }
        if (c == double.class || c == Double.class) {
            return Scalar.NUMBER;
        }
        if (c == boolean.class || c == Boolean.class) {
            return Scalar.BOOLEAN;
        }
        if (c == Path.class) {
            return Scalar.PATH;
        }
        throw new IllegalStateException("profile records cannot use " + c);
    }
}

package dev.montage.runtime.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Suggestions;
import dev.montage.runtime.registry.ComponentRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Resolves a configuration profile, once, at startup. Layers, from weakest to strongest: the built-in defaults, the
 * profiles in the order given (a later one overrides an earlier one key by key, sections merging deeply, and
 * {@code null} clearing a value), environment variables {@code MONTAGE_<SECTION>_<KEY>} (e.g.
 * {@code MONTAGE_ENGINE_DEVICE}, {@code MONTAGE_MODELS_BASE}, {@code MONTAGE_OPTIONS_SCHEDULER_<OPTION>}; an empty
 * variable counts as unset), then settings by dotted key (command-line flags, builder calls). Relative paths in a
 * profile file are taken from the file's folder, others from the working folder; {@code ~} is the home folder.
 *
 * <p>The result is then checked as a whole and every problem is reported at once in a {@link ProfileException},
 * each naming where the value came from ({@code file:line}, variable or flag), the dotted key and what was
 * expected: unknown keys (with the closest known one), values of the wrong type, missing weight folders and files,
 * component ids no installed plugin provides, unsupported device or dtype, invalid request defaults, and what the
 * checks of the sections hosts registered ({@link #section}) find.
 */
public final class ProfileResolver {
    /** The source of values nobody set. */
    public static final String DEFAULTS_SOURCE = "built-in defaults";
    /** Prefix of the environment variables that override profile keys. */
    public static final String ENVIRONMENT_PREFIX = "MONTAGE_";
    private static final String DEFAULTS_RESOURCE = "defaults.yaml";
    private static final String DEFAULTS_TEXT = readDefaults();

    /**
     * What the profile will be assembled into, which decides what it must provide.
     *
     * @param subjects      whether the pipeline takes subjects (image encoder, resampler, MS-Diffusion attention)
     * @param requireModels whether model paths are required (else none at all means the embedded default model)
     * @param provided      slots filled by instances, whose profile ids are not used
     * @param extraIds      ids available beyond the registry's, e.g. scheduler instances added under an id
     * @param uses          component ids the assembly uses besides the profile's
     */
    record Assembly(boolean subjects, boolean requireModels, Set<ComponentKind> provided,
            Map<ComponentKind, Set<String>> extraIds, List<Use> uses) {
    }

    /** A component id the assembly uses, and what asked for it. */
    record Use(ComponentKind kind, String id, String source) {
    }

    private record Setting(String key, Object value, String source) {
    }

    private final ProfileCatalog catalog;
    private final ComponentRegistry registry;
    private Map<String, String> environment = Map.of();
    private final List<Setting> settings = new ArrayList<>();
    private final Set<ComponentKind> provided = EnumSet.noneOf(ComponentKind.class);
    private final Map<ComponentKind, Set<String>> extraIds = new EnumMap<>(ComponentKind.class);
    private final List<Use> uses = new ArrayList<>();
    private final Map<String, ProfileSection<?>> sections = new LinkedHashMap<>();
    private boolean subjects = true;
    private boolean requireModels;

    /**
     * @param catalog  where profile names lead
     * @param registry the installed components, which component ids are checked against
     */
    public ProfileResolver(ProfileCatalog catalog, ComponentRegistry registry) {
        this.catalog = catalog;
        this.registry = registry;
    }

    /** Environment variables to read {@code MONTAGE_*} overrides from (none unless given, e.g. {@link System#getenv()}). */
    public ProfileResolver environment(Map<String, String> variables) {
        environment = Map.copyOf(variables);
        return this;
    }

    /**
     * Overrides one key; later settings win over earlier ones.
     *
     * @param key    dotted key, e.g. {@code defaults.steps} or {@code options.scheduler.timestep_spacing}
     * @param value  a string, number or path ({@code null} clears the key)
     * @param source what set it, for messages, e.g. {@code command line --steps}
     */
    public ProfileResolver set(String key, Object value, String source) {
        settings.add(new Setting(key, value, source));
        return this;
    }

    /** A slot will be filled by an instance: its profile id is not checked. */
    public ProfileResolver provided(ComponentKind kind) {
        provided.add(kind);
        return this;
    }

    /** An id that will be available for a kind although no plugin registers it (an instance added under an id). */
    public ProfileResolver extraId(ComponentKind kind, String id) {
        extraIds.computeIfAbsent(kind, k -> new HashSet<>()).add(id);
        return this;
    }

    /** The assembly uses component {@code id} besides the profile's ids; {@code source} names what asked for it. */
    public ProfileResolver uses(ComponentKind kind, String id, String source) {
        uses.add(new Use(kind, id, source));
        return this;
    }

    /**
     * Adds a section the host owns to the profile: without it, a profile holding that section is refused as holding
     * an unknown key.
     *
     * @throws IllegalArgumentException when another section of that name was added
     */
    public ProfileResolver section(ProfileSection<?> section) {
        ProfileSection<?> earlier = sections.putIfAbsent(section.name(), section);
        if (earlier != null && !earlier.equals(section)) {
            throw new IllegalArgumentException("profile section '" + section.name() + "' is added twice, as "
                    + earlier.type().getName() + " and " + section.type().getName()
                    + "; expected one section per name");
        }
        return this;
    }

    /** The pipeline will take no subjects: image encoder, resampler and adapter are not needed. */
    public ProfileResolver withoutSubjects() {
        subjects = false;
        return this;
    }

    /** Model paths are required (a library has no embedded default model to fall back on). */
    public ProfileResolver requireModels() {
        requireModels = true;
        return this;
    }

    /**
     * Reads, layers and checks the profiles.
     *
     * @param profiles profile names or file paths, weakest first (none: the built-in defaults)
     * @throws ProfileException listing every problem
     */
    public ResolvedProfile resolve(List<String> profiles) {
        List<ProfileProblem> problems = new ArrayList<>();
        Schema.Section root = Schema.root(sections.values());
        SettingsTree tree = defaults(root, problems);
        JsonNode fallback = tree.root().deepCopy();
        for (String name : profiles) {
            ProfileCatalog.Source source;
            try {
                source = catalog.locate(name);
            } catch (IllegalArgumentException | UncheckedIOException e) {
                problems.add(new ProfileProblem(name, "", e.getMessage()));
                continue;
            }
            tree.merge(SettingsTree.parse(source.text(), source.json(), source.name(), source.relativeTo(),
                    problems, root));
        }
        applyEnvironment(root, tree, problems);
        for (Setting s : settings) {
            apply(root, tree, s.key(), s.value(), s.source(), problems);
        }
        Binder.Bound bound = new Binder(root, tree, fallback, problems).bind();
        ProfileChecks checks = new ProfileChecks(tree, problems);
        new ProfileValidator(tree, checks, registry, new Assembly(subjects, requireModels, Set.copyOf(provided),
                Map.copyOf(extraIds), List.copyOf(uses)), problems).validate(bound.profile());
        sections.values().forEach(s -> s.check(bound.sections().get(s.name()), checks));
        if (!problems.isEmpty()) {
            throw new ProfileException(profiles, problems);
        }
        return new ResolvedProfile(bound.profile(), profiles, tree.origins(), bound.sections());
    }

    /** The environment variable that overrides a fixed key, e.g. {@code MONTAGE_ENGINE_DEVICE}. */
    public static String environmentVariable(String key) {
        return ENVIRONMENT_PREFIX + key.replace('.', '_').toUpperCase(Locale.ROOT);
    }

    /** The runtime's built-in defaults with those of the hosts' sections. */
    private SettingsTree defaults(Schema.Section root, List<ProfileProblem> problems) {
        Path workingFolder = Path.of("").toAbsolutePath();
        SettingsTree tree = SettingsTree.parse(DEFAULTS_TEXT, false, DEFAULTS_SOURCE, workingFolder, problems, root);
        for (ProfileSection<?> s : sections.values()) {
            tree.merge(SettingsTree.parse(s.defaults(), false, DEFAULTS_SOURCE, workingFolder, problems, root));
        }
        tree.attributeAllTo(DEFAULTS_SOURCE);
        return tree;
    }

    private void applyEnvironment(Schema.Section root, SettingsTree tree, List<ProfileProblem> problems) {
        Map<String, String> leaves = new LinkedHashMap<>();
        Map<String, String> entries = new LinkedHashMap<>();
        Schema.keys(root).forEach((key, node) -> {
            if (node instanceof Schema.Leaf) {
                leaves.put(environmentVariable(key), key);
            } else if (node instanceof Schema.Entries) {
                entries.put(environmentVariable(key) + "_", key);
            }
        });
        Schema.restSections(root).keySet().forEach(key -> entries.put(environmentVariable(key) + "_", key));
        for (Map.Entry<String, String> e : new TreeMap<>(environment).entrySet()) {
            String name = e.getKey();
            if (!name.startsWith(ENVIRONMENT_PREFIX) || e.getValue().isEmpty()) {
                continue;
            }
            String source = "environment variable " + name;
            String key = leaves.get(name);
            if (key == null) {
                // the longest prefix: MONTAGE_MODELS_CONTROLNETS_CANNY is a ControlNet, not a model key
                String prefix = "";
                for (Map.Entry<String, String> p : entries.entrySet()) {
                    if (name.startsWith(p.getKey()) && name.length() > p.getKey().length()
                            && p.getKey().length() > prefix.length()) {
                        prefix = p.getKey();
                        key = p.getValue() + "." + name.substring(p.getKey().length()).toLowerCase(Locale.ROOT);
                    }
                }
            }
            if (key != null) {
                apply(root, tree, key, e.getValue(), source, problems);
                continue;
            }
            // variables of a known section that match no key are typos; others (MONTAGE_HOME, ...) are not ours
            for (String section : root.fields().keySet()) {
                String prefix = environmentVariable(section) + "_";
                if (name.startsWith(prefix)) {
                    List<String> known = new ArrayList<>(leaves.keySet());
                    entries.keySet().forEach(p -> known.add(p + "<NAME>"));
                    known.removeIf(k -> !k.startsWith(prefix));
                    problems.add(new ProfileProblem(source, section + "." + name.substring(prefix.length())
                            .toLowerCase(Locale.ROOT), "unknown key" + Suggestions.didYouMean(name, known)
                            + " (expected one of " + String.join(", ", known) + ")"));
                }
            }
        }
    }

    private static void apply(Schema.Section root, SettingsTree tree, String key, Object value, String source,
            List<ProfileProblem> problems) {
        List<String> path = new ArrayList<>();
        Schema.Node node = root;
        String rest = key;
        while (node instanceof Schema.Section s) {
            int dot = rest.indexOf('.');
            String name = dot < 0 ? rest : rest.substring(0, dot);
            Schema.Field f = s.field(name).orElse(null);
            if (f == null && s.rest().isPresent()) {
                path.add(name);
                node = new Schema.Leaf(((Schema.Entries) s.rest().get().node()).values(), true);
                rest = dot < 0 ? "" : rest.substring(dot + 1);
                break;
            }
            if (f == null) {
                problems.add(new ProfileProblem(source, key, "unknown key"
                        + Suggestions.didYouMean(key, Schema.keys(root).keySet())
                        + " (expected a dotted key such as engine.device or defaults.steps)"));
                return;
            }
            path.add(name);
            node = f.node();
            rest = dot < 0 ? "" : rest.substring(dot + 1);
            if (rest.isEmpty()) {
                break;
            }
        }
        if (node instanceof Schema.Entries entries && !rest.isEmpty()) {
            path.add(rest);
            rest = "";
            node = new Schema.Leaf(entries.values(), true);
        }
        if (!rest.isEmpty() || node instanceof Schema.Section || node instanceof Schema.Entries) {
            problems.add(new ProfileProblem(source, key, "expected the key of one value"
                    + (node instanceof Schema.Leaf ? "" : " inside it, e.g. " + Schema.keys(root).keySet().stream()
                    .filter(k -> k.startsWith(key + ".")).findFirst().orElse(key + ".<name>"))));
            return;
        }
        boolean isPath = (node instanceof Schema.Leaf l && l.scalar() == Schema.Scalar.PATH)
                || (node instanceof Schema.Entries en && en.values() == Schema.Scalar.PATH);
        JsonNode json;
        if (value == null) {
            json = NullNode.getInstance();
        } else if (value instanceof Number n) {
            json = SettingsTree.MAPPER.valueToTree(n);
        } else {
            String text = value.toString();
            json = TextNode.valueOf(isPath ? SettingsTree.resolvePath(text, Path.of("").toAbsolutePath()) : text);
        }
        tree.set(path, path.stream().reduce("", Schema::child), json, source);
    }

    private static String readDefaults() {
        try (InputStream in = ProfileResolver.class.getResourceAsStream(DEFAULTS_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the runtime lacks its resource " + DEFAULTS_RESOURCE);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + DEFAULTS_RESOURCE, e);
        }
    }
}

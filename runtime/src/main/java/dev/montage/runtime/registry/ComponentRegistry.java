package dev.montage.runtime.registry;

import dev.montage.api.PluginException;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.LoraTarget;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.PublishedConfiguration;
import dev.montage.api.spi.SingleFileLayout;
import dev.montage.api.spi.Suggestions;
import dev.montage.runtime.weights.JsonFiles;
import java.net.URL;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Every component factory the plugin sources found, keyed by (kind, id). Sources add factories with the name
 * of where they came from, so listings and errors can say which plugin provides what.
 */
public final class ComponentRegistry {

    /**
     * One registered factory.
     *
     * @param factory the factory
     * @param source  where it came from, e.g. {@code classpath}, {@code osgi:dev.montage.clip}
     */
    public record Entry(ComponentFactory<?> factory, String source) {
        public ComponentKind kind() {
            return factory.kind();
        }

        public String id() {
            return factory.id();
        }
    }

    private record Key(ComponentKind kind, String id) {
    }

    private final Map<Key, Entry> entries = new LinkedHashMap<>();

    /** A registry of the factories {@link ServiceLoader} finds with the given class loader. */
    public static ComponentRegistry fromClasspath(ClassLoader loader) {
        ComponentRegistry registry = new ComponentRegistry();
        ServiceLoader.load(ComponentFactory.class, loader).forEach(f -> registry.register(f, "classpath"));
        return registry;
    }

    /**
     * Adds a factory.
     *
     * @throws IllegalStateException naming both sources when the (kind, id) is taken
     */
    public synchronized void register(ComponentFactory<?> factory, String source) {
        Objects.requireNonNull(factory.kind(), () -> factory.getClass().getName() + " has no kind");
        Key key = new Key(factory.kind(), factory.id());
        Entry existing = entries.get(key);
        if (existing != null) {
            throw new IllegalStateException("duplicate " + describe(key) + ": from " + existing.source() + " ("
                    + existing.factory().getClass().getName() + ") and from " + source + " ("
                    + factory.getClass().getName() + ")");
        }
        entries.put(key, new Entry(factory, source));
    }

    /**
     * The factory of a component.
     *
     * @throws PluginException naming the kind, the id, the closest id installed and the ids that exist for that kind
     * @throws IllegalArgumentException when that kind does not make a {@code type}
     */
    @SuppressWarnings("unchecked")
    public synchronized <T> ComponentFactory<T> factory(ComponentKind kind, String id, Class<T> type) {
        Entry e = entries.get(new Key(kind, id));
        if (e == null) {
            throw new PluginException("no plugin provides " + describe(new Key(kind, id))
                    + Suggestions.didYouMean(id, ids(kind)) + "; available: " + ids(kind));
        }
        if (!type.isAssignableFrom(kind.type())) {
            throw new IllegalArgumentException(describe(new Key(kind, id)) + " does not make a " + type.getName());
        }
        return (ComponentFactory<T>) e.factory();
    }

    /**
     * Where a registered component comes from, e.g. {@code osgi:dev.montage.clip}.
     *
     * @throws PluginException as {@link #factory} when nothing is registered under (kind, id)
     */
    public synchronized String source(ComponentKind kind, String id) {
        factory(kind, id, Object.class);
        return entries.get(new Key(kind, id)).source();
    }

    /** Ids registered for a kind, sorted. */
    public synchronized List<String> ids(ComponentKind kind) {
        return entries.keySet().stream().filter(k -> k.kind() == kind).map(Key::id).sorted()
                .collect(Collectors.toList());
    }

    /** Every entry, sorted by kind and id. */
    public synchronized List<Entry> entries() {
        List<Entry> list = new ArrayList<>(entries.values());
        list.sort(Comparator.comparing(Entry::kind).thenComparing(Entry::id));
        return list;
    }

    /** Adds every entry of another registry (e.g. a plugin source). */
    public void registerAll(Collection<Entry> more) {
        more.forEach(e -> register(e.factory(), e.source()));
    }

    /**
     * The model files every registered factory declares, by key; where factories declare one key, the first
     * registered one's declaration is kept.
     */
    public synchronized Map<String, ModelFile> modelFiles() {
        Map<String, ModelFile> files = new TreeMap<>();
        for (Entry e : entries.values()) {
            e.factory().modelFiles().forEach(f -> files.putIfAbsent(f.key(), f));
        }
        return files;
    }

    /**
     * The layout of each model key that a registered factory can read from a file of another layout
     * ({@link SingleFileLayout#singleFileKeys()} and {@link SingleFileLayout#componentFileKeys()}); where factories
     * share a key, the first registered one's.
     */
    public synchronized Map<String, SingleFileLayout> singleFileLayouts() {
        Map<String, SingleFileLayout> layouts = new TreeMap<>();
        for (Entry e : entries.values()) {
            if (e.factory() instanceof SingleFileLayout layout) {
                layout.singleFileKeys().forEach(k -> layouts.putIfAbsent(k, layout));
                layout.componentFileKeys().forEach(k -> layouts.putIfAbsent(k, layout));
            }
        }
        return layouts;
    }

    /**
     * The configuration files of a model key as the published model of a registered factory has them
     * ({@link PublishedConfiguration}), by file name; where factories share a key, the first registered one's that has
     * any. Empty when none has.
     */
    public synchronized Map<String, ModelConfig> published(String key) {
        for (Entry e : entries.values()) {
            if (e.factory() instanceof PublishedConfiguration p) {
                Map<String, URL> files = p.publishedFiles(key);
                if (!files.isEmpty()) {
                    Map<String, ModelConfig> configs = new TreeMap<>();
                    files.forEach((name, url) -> configs.put(name, new ModelConfig("the published "
                            + p.publishedModel() + " " + key + "/" + name, JsonFiles.readObject(url))));
                    return configs;
                }
            }
        }
        return Map.of();
    }

    /**
     * The model key each start of a LoRA module name adapts: the kohya-ss prefixes ({@link
     * LoraTarget#loraPrefixes()}) with their {@code _} and diffusers' ({@link LoraTarget#diffusersLoraPrefixes()}) with
     * their {@code .}, e.g. {@code lora_unet_} and {@code unet.} → {@code unet}; where factories share a prefix, the
     * first registered one's.
     */
    public synchronized Map<String, String> loraPrefixes() {
        Map<String, String> keys = new TreeMap<>();
        for (Entry e : entries.values()) {
            if (e.factory() instanceof LoraTarget target) {
                target.loraPrefixes().forEach((key, prefix) -> keys.putIfAbsent(prefix + "_", key));
                target.diffusersLoraPrefixes().forEach((key, prefix) -> keys.putIfAbsent(prefix + ".", key));
            }
        }
        return keys;
    }

    /** How messages name a component, e.g. {@code text encoder 'sdxl-clip'}. */
    public static String describe(ComponentKind kind, String id) {
        return kind.name().toLowerCase(Locale.ROOT).replace('_', ' ') + " '" + id + "'";
    }

    private static String describe(Key key) {
        return describe(key.kind(), key.id());
    }
}

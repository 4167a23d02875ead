package dev.montage.runtime.registry;

import dev.montage.api.MontageApi;
import dev.montage.api.PluginException;
import dev.montage.api.spi.ComponentFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.osgi.framework.Version;
import org.osgi.framework.VersionRange;

/**
 * The plugins of one host, loaded at startup from three sources into one {@link ComponentRegistry}: the
 * classpath ({@link ServiceLoader}: tests, IDEs, Montage embedded as a library), then the bundles of a plugins
 * folder (embedded Apache Felix), then its PF4J plugins; each file of the folder goes to the source that understands
 * it. Every component factory must accept the host's API ({@link ComponentFactory#apiVersionRange()} includes
 * {@link MontageApi#VERSION}) and take a (kind, id) no earlier plugin took. Whatever fails (a file that is no plugin,
 * a bundle that does not resolve, a plugin that throws in its start, an incompatible or duplicate component) is
 * reported by name in {@link #reports()} and the rest still starts.
 *
 * <p>Components made by plugin factories run plugin code: keep this open while they are used, and close it after.
 */
public final class InstalledPlugins implements AutoCloseable {
    private final ComponentRegistry registry = new ComponentRegistry();
    private final List<PluginReport> reports = new ArrayList<>();
    private final List<AutoCloseable> sources = new ArrayList<>();
    private final Path work;

    private InstalledPlugins(Path work) {
        this.work = work;
    }

    /** Starts a configuration. */
    public static Builder builder() {
        return new Builder();
    }

    /** Where plugins come from. */
    public static final class Builder {
        private ClassLoader classpath;
        private final List<Path> folders = new ArrayList<>();

        private Builder() {
        }

        /** Registers the factories {@link ServiceLoader} finds with this class loader (first, before any folder). */
        public Builder classpath(ClassLoader loader) {
            this.classpath = loader;
            return this;
        }

        /** Loads the bundles and PF4J plugins of a folder (a missing folder holds none). */
        public Builder folder(Path folder) {
            folders.add(folder);
            return this;
        }

        /**
         * Loads everything. Plugin problems are reported, not thrown.
         *
         * @throws PluginException when a folder cannot be listed, the work folder cannot be made or the OSGi
         *     framework cannot start
         */
        public InstalledPlugins load() {
            InstalledPlugins plugins;
            try {
                plugins = new InstalledPlugins(Files.createTempDirectory("montage-plugins"));
            } catch (IOException e) {
                throw new PluginException("cannot create a work folder for plugins: " + e.getMessage(), e);
            }
            try {
                plugins.load(classpath, folders);
            } catch (RuntimeException e) {
                plugins.close();
                throw e;
            }
            return plugins;
        }
    }

    private void load(ClassLoader classpath, List<Path> folders) {
        if (classpath != null) {
            fromClasspath(classpath).forEach(this::accept);
        }
        Map<Path, String> bundles = new LinkedHashMap<>();
        Map<Path, String> pf4j = new LinkedHashMap<>();
        for (Path folder : folders) {
            for (PluginFolder.Candidate c : PluginFolder.scan(folder)) {
                switch (c.kind()) {
                    case OSGI -> bundles.put(c.file(), c.name());
                    case PF4J -> pf4j.put(c.file(), c.name());
                    case UNKNOWN -> reports.add(PluginReport.failed(c.name(), c.file().toString(), c.why()));
                }
            }
        }
        if (!bundles.isEmpty()) {
            OsgiPlugins osgi = OsgiPlugins.start(work.resolve("felix-cache"));
            sources.add(osgi);
            osgi.load(bundles).forEach(this::accept);
        }
        if (!pf4j.isEmpty()) {
            Pf4jPlugins plugins = Pf4jPlugins.create(work.resolve("pf4j"));
            sources.add(plugins);
            plugins.load(pf4j).forEach(this::accept);
        }
    }

    /**
     * The classpath, one plugin per jar (or classes folder) that holds factories, each described by its manifest; a
     * provider that cannot be made is a problem of the classpath as a whole, the others still count.
     */
    @SuppressWarnings("rawtypes")
    private static List<LoadedPlugin> fromClasspath(ClassLoader loader) {
        Map<String, List<ComponentFactory<?>>> bySource = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (ServiceLoader.Provider<ComponentFactory> p : ServiceLoader.load(ComponentFactory.class, loader).stream()
                .toList()) {
            try {
                ComponentFactory<?> factory = p.get();
                bySource.computeIfAbsent(codeSource(factory.getClass()), k -> new ArrayList<>()).add(factory);
            } catch (ServiceConfigurationError e) {
                problems.add(e.getMessage());
            }
        }
        List<LoadedPlugin> plugins = new ArrayList<>();
        bySource.forEach((source, factories) -> plugins.add(new LoadedPlugin(CLASSPATH, source,
                source.equals(CLASSPATH_LOCATION) ? PluginReport.About.NONE : about(Path.of(source)), true,
                factories, List.of())));
        if (!problems.isEmpty() || plugins.isEmpty()) {
            plugins.add(new LoadedPlugin(CLASSPATH, CLASSPATH_LOCATION, PluginReport.About.NONE, true, List.of(),
                    problems));
        }
        return plugins;
    }

    private static final String CLASSPATH = "classpath";
    private static final String CLASSPATH_LOCATION = "class path";

    /** The jar or classes folder a class was loaded from, or {@value #CLASSPATH_LOCATION} when that is unknown. */
    private static String codeSource(Class<?> type) {
        try {
            CodeSource source = type.getProtectionDomain().getCodeSource();
            return source == null || source.getLocation() == null ? CLASSPATH_LOCATION
                    : Path.of(source.getLocation().toURI()).toString();
        } catch (URISyntaxException | IllegalArgumentException | SecurityException e) {
            return CLASSPATH_LOCATION;
        }
    }

    /** Version and description from the manifest of a jar or classes folder. */
    static PluginReport.About about(Path source) {
        Manifest manifest;
        try {
            if (Files.isDirectory(source)) {
                Path file = source.resolve(JarFile.MANIFEST_NAME);
                if (!Files.isRegularFile(file)) {
                    return PluginReport.About.NONE;
                }
                try (InputStream in = Files.newInputStream(file)) {
                    manifest = new Manifest(in);
                }
            } else {
                try (JarFile jar = new JarFile(source.toFile())) {
                    manifest = jar.getManifest();
                }
            }
        } catch (IOException e) {
            return PluginReport.About.NONE;
        }
        if (manifest == null) {
            return PluginReport.About.NONE;
        }
        Attributes main = manifest.getMainAttributes();
        return new PluginReport.About(first(main, "Bundle-Version", "Implementation-Version"),
                first(main, "Bundle-Description", "Implementation-Title"));
    }

    private static String first(Attributes attributes, String name, String otherwise) {
        String value = attributes.getValue(name);
        return value != null ? value : attributes.getValue(otherwise);
    }

    /** Registers a plugin's factories, refusing those of another API or with a taken (kind, id). */
    private void accept(LoadedPlugin plugin) {
        List<PluginReport.Component> components = new ArrayList<>();
        List<String> problems = new ArrayList<>(plugin.problems());
        for (ComponentFactory<?> f : plugin.factories()) {
            try {
                String refusal = incompatibility(f);
                if (refusal == null) {
                    try {
                        registry.register(f, plugin.name());
                    } catch (IllegalStateException | NullPointerException e) {
                        refusal = e.getMessage();
                    }
                }
                components.add(new PluginReport.Component(f.kind(), f.id(), f.description(), refusal));
            } catch (RuntimeException | LinkageError e) {
                // plugin code answering kind(), id() or description() must not stop the host
                problems.add(f.getClass().getName() + " cannot describe itself: " + e);
            }
        }
        reports.add(new PluginReport(plugin.name(), plugin.location(), plugin.about(),
                plugin.started() ? PluginReport.State.ACTIVE : PluginReport.State.FAILED, components, problems));
    }

    /** Why a factory cannot run on this host's API, or {@code null}. */
    static String incompatibility(ComponentFactory<?> factory) {
        String range = factory.apiVersionRange();
        if (range == null) {
            return "declares no API version: annotate its package or factory with @BuiltFor("
                    + "MontageApi.COMPATIBLE_RANGE)";
        }
        try {
            if (new VersionRange(range).includes(Version.parseVersion(MontageApi.VERSION))) {
                return null;
            }
            return "built for API " + range + ", the host's API is " + MontageApi.VERSION;
        } catch (IllegalArgumentException | NullPointerException e) {
            return "its API version range '" + range + "' is not an OSGi version range such as [0.2,0.3)";
        }
    }

    /** The registry of every accepted component. */
    public ComponentRegistry registry() {
        return registry;
    }

    /** Every plugin, in load order: the classpath, then the folders' bundles, then their PF4J plugins. */
    public List<PluginReport> reports() {
        return List.copyOf(reports);
    }

    /** The plugins that failed or had a component refused. */
    public List<PluginReport> problems() {
        return reports.stream().filter(r -> !r.healthy()).toList();
    }

    /** Stops PF4J plugins and the OSGi framework, and deletes the work folder. */
    @Override
    public void close() {
        RuntimeException failure = null;
        for (int i = sources.size() - 1; i >= 0; i--) {
            try {
                sources.get(i).close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IllegalStateException("cannot stop the plugins: " + e.getMessage(), e);
                }
            }
        }
        sources.clear();
        try (Stream<Path> files = Files.walk(work)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            if (failure == null) {
                failure = new UncheckedIOException("cannot delete the plugin work folder " + work, e);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}

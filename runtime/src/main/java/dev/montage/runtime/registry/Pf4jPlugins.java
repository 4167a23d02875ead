package dev.montage.runtime.registry;

import dev.montage.api.MontageApi;
import dev.montage.api.PluginException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.pf4j.DefaultPluginManager;
import org.pf4j.PluginClassLoader;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginLoader;
import org.pf4j.PluginManager;
import org.pf4j.PluginRepository;
import org.pf4j.PluginState;
import org.pf4j.PluginStatusProvider;
import org.pf4j.PluginWrapper;
import org.pf4j.util.Unzip;

/**
 * The PF4J plugin source. A PF4J plugin is a jar with {@code Plugin-Id} in its manifest, or a zip / folder with a
 * {@code plugin.properties} and its jars under {@code lib/} (classes under {@code classes/}). Its
 * {@code Plugin-Requires} is checked against {@link MontageApi#VERSION} (PF4J's SemVer expressions, e.g.
 * {@code >=0.2.0 & <0.3.0}); its optional {@code Plugin-Class} is started.
 *
 * <p>Montage's extension point is {@link dev.montage.api.spi.ComponentFactory} itself, which does not extend
 * {@code org.pf4j.ExtensionPoint} (the api knows no PF4J): a plugin lists its factories in its own
 * {@code META-INF/services/dev.montage.api.spi.ComponentFactory}, the same file the classpath and OSGi sources read,
 * and they are made with the plugin's class loader. That loader takes the shared packages ({@link HostPackages}:
 * the api, DJL, Jackson) from the host first, so a plugin that packs its own copy still shares the host's classes
 * and native PyTorch; everything else comes from the plugin first, as PF4J does by default.
 */
final class Pf4jPlugins implements AutoCloseable {
    private final Manager manager;
    private final Path unpacked;

    private Pf4jPlugins(Manager manager, Path unpacked) {
        this.manager = manager;
        this.unpacked = unpacked;
    }

    /** A PF4J manager for plugins given one by one; zips are unpacked under {@code work}. */
    static Pf4jPlugins create(Path work) {
        Manager manager = new Manager(work);
        manager.setSystemVersion(MontageApi.VERSION);
        return new Pf4jPlugins(manager, work);
    }

    /**
     * Loads, resolves and starts the plugins, then collects their factories. A plugin that cannot be loaded, whose
     * {@code Plugin-Requires} excludes the host's API, whose dependencies are missing or whose start throws is
     * reported; the others start.
     *
     * @param plugins plugin file → its name ({@code pf4j:<id>})
     */
    List<LoadedPlugin> load(Map<Path, String> plugins) {
        List<LoadedPlugin> loaded = new ArrayList<>();
        Map<PluginWrapper, Path> wrappers = new LinkedHashMap<>();
        for (Map.Entry<Path, String> e : plugins.entrySet()) {
            Path file = e.getKey();
            try {
                wrappers.put(manager.add(unpackIfZip(file)), file);
            } catch (RuntimeException ex) {
                loaded.add(LoadedPlugin.failed(e.getValue(), file.toString(), PluginReport.About.NONE,
                        "cannot be loaded: " + ex.getMessage()));
            }
        }
        manager.resolveAll();
        manager.startPlugins();
        for (Map.Entry<PluginWrapper, Path> e : wrappers.entrySet()) {
            PluginWrapper plugin = e.getKey();
            String name = "pf4j:" + plugin.getPluginId();
            String location = e.getValue().toString();
            PluginState state = plugin.getPluginState();
            PluginReport.About about = new PluginReport.About(plugin.getDescriptor().getVersion(),
                    plugin.getDescriptor().getPluginDescription());
            if (state == PluginState.STARTED) {
                loaded.add(LoadedPlugin.started(name, location, about, ProviderFiles.instantiate(
                        ProviderFiles.classNames(ownProviderFiles(plugin)), plugin.getPluginClassLoader()::loadClass)));
            } else {
                loaded.add(LoadedPlugin.failed(name, location, about, reason(plugin)));
            }
        }
        return loaded;
    }

    private String reason(PluginWrapper plugin) {
        PluginDescriptor d = plugin.getDescriptor();
        if (plugin.getPluginState() == PluginState.DISABLED) {
            return "requires API " + d.getRequires() + " (Plugin-Requires), the host's API is " + MontageApi.VERSION;
        }
        if (plugin.getPluginState() == PluginState.FAILED && plugin.getFailedException() != null) {
            return "its start threw " + plugin.getFailedException();
        }
        if (!manager.getResolvedPlugins().contains(plugin)) {
            return "cannot be resolved: its dependencies " + d.getDependencies() + " are missing or of the wrong version";
        }
        return "did not start (state " + plugin.getPluginState() + ")";
    }

    /** The plugin's own provider files: its class loader's, without those of the host it delegates to. */
    private static List<URL> ownProviderFiles(PluginWrapper plugin) {
        try {
            return Collections.list(((PluginClassLoader) plugin.getPluginClassLoader()).findResources(
                    ProviderFiles.PATH));
        } catch (IOException e) {
            throw new PluginException("cannot read the provider files of plugin " + plugin.getPluginId() + ": "
                    + e.getMessage(), e);
        }
    }

    /** A zip is unpacked into the work folder (never beside it: the plugins folder may be read-only). */
    private Path unpackIfZip(Path file) {
        if (Files.isDirectory(file) || !file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".zip")) {
            return file;
        }
        Path target = unpacked.resolve(file.getFileName().toString().replaceAll("(?i)\\.zip$", ""));
        try {
            new Unzip(file.toFile(), target.toFile()).extract();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack " + file + ": " + e.getMessage(), e);
        }
        return target;
    }

    @Override
    public void close() {
        manager.stopPlugins();
        manager.unloadPlugins();
    }

    /** PF4J's manager, fed plugin by plugin instead of scanning a folder, with the host-first class loaders. */
    private static final class Manager extends DefaultPluginManager {
        Manager(Path root) {
            super(root);
            setResolveRecoveryStrategy(ResolveRecoveryStrategy.IGNORE_PLUGIN_AND_CONTINUE);
        }

        PluginWrapper add(Path path) {
            return loadPluginFromPath(path);
        }

        void resolveAll() {
            resolvePlugins();
        }

        @Override
        protected PluginRepository createPluginRepository() {
            return new PluginRepository() {
                @Override
                public List<Path> getPluginPaths() {
                    return List.of();
                }

                @Override
                public boolean deletePluginPath(Path pluginPath) {
                    return false;
                }
            };
        }

        @Override
        protected PluginStatusProvider createPluginStatusProvider() {
            // every plugin in the folder is wanted; there are no enabled.txt / disabled.txt files
            return new PluginStatusProvider() {
                @Override
                public boolean isPluginDisabled(String pluginId) {
                    return false;
                }

                @Override
                public void disablePlugin(String pluginId) {
                }

                @Override
                public void enablePlugin(String pluginId) {
                }
            };
        }

        @Override
        protected PluginLoader createPluginLoader() {
            return new HostFirstLoader(this);
        }
    }

    /** Loads a plugin jar, or a folder's {@code classes/} and {@code lib/*.jar}, with a {@link HostFirstClassLoader}. */
    private record HostFirstLoader(PluginManager manager) implements PluginLoader {
        @Override
        public boolean isApplicable(Path pluginPath) {
            return Files.exists(pluginPath);
        }

        @Override
        public ClassLoader loadPlugin(Path pluginPath, PluginDescriptor descriptor) {
            HostFirstClassLoader loader = new HostFirstClassLoader(manager, descriptor);
            if (!Files.isDirectory(pluginPath)) {
                loader.addFile(pluginPath.toFile());
                return loader;
            }
            Path classes = pluginPath.resolve("classes");
            if (Files.isDirectory(classes)) {
                loader.addFile(classes.toFile());
            }
            Path lib = pluginPath.resolve("lib");
            if (Files.isDirectory(lib)) {
                try (Stream<Path> jars = Files.list(lib)) {
                    jars.filter(j -> j.toString().toLowerCase(Locale.ROOT).endsWith(".jar")).sorted()
                            .map(Path::toFile).forEach(loader::addFile);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot list " + lib, e);
                }
            }
            return loader;
        }
    }

    /** PF4J's plugin-first class loader, except for the packages the host shares, which always come from the host. */
    private static final class HostFirstClassLoader extends PluginClassLoader {
        static {
            registerAsParallelCapable();
        }

        HostFirstClassLoader(PluginManager manager, PluginDescriptor descriptor) {
            super(manager, descriptor, Pf4jPlugins.class.getClassLoader());
        }

        @Override
        public Class<?> loadClass(String className) throws ClassNotFoundException {
            if (HostPackages.isShared(className)) {
                return getParent().loadClass(className);
            }
            return super.loadClass(className);
        }
    }
}

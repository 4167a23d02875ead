package dev.montage.runtime.registry;

import dev.montage.api.PluginException;
import dev.montage.api.spi.ComponentFactory;
import java.net.URL;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.felix.framework.Felix;
import org.apache.felix.framework.Logger;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.wiring.FrameworkWiring;
import org.slf4j.LoggerFactory;

/**
 * The OSGi plugin source: an embedded Apache Felix framework whose system bundle exports the host's shared packages
 * ({@link HostPackages}), with every bundle of the plugins folder installed (by reference, not copied) and started.
 * A bundle offers factories in two ways: listed in its own {@code META-INF/services/dev.montage.api.spi.ComponentFactory}
 * (what the built-in bundles do: the same packaging works on the classpath and in PF4J), and as OSGi services of
 * type {@link ComponentFactory} registered while it starts (e.g. by a bundle activator).
 */
final class OsgiPlugins implements AutoCloseable {
    private final Felix framework;

    private OsgiPlugins(Felix framework) {
        this.framework = framework;
    }

    /** Starts the framework with its bundle cache in {@code storage}. */
    static OsgiPlugins start(Path storage) {
        Map<String, Object> config = new HashMap<>();
        config.put(Constants.FRAMEWORK_STORAGE, storage.toString());
        config.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        config.put(Constants.FRAMEWORK_SYSTEMPACKAGES_EXTRA,
                HostPackages.systemPackagesExtra(OsgiPlugins.class.getClassLoader()));
        config.put("felix.log.logger", new Slf4jLogger());
        config.put("felix.log.level", "2");
        Felix felix = new Felix(config);
        try {
            felix.init();
            felix.start();
        } catch (BundleException e) {
            throw new PluginException("cannot start the OSGi framework: " + e.getMessage(), e);
        }
        return new OsgiPlugins(felix);
    }

    /**
     * Installs, resolves and starts the bundles, then collects their factories. A bundle that cannot be installed,
     * resolved or started is reported with the framework's reason; the others start.
     *
     * @param bundles bundle file → its name ({@code osgi:<bsn>})
     */
    List<LoadedPlugin> load(Map<Path, String> bundles) {
        BundleContext context = framework.getBundleContext();
        List<LoadedPlugin> loaded = new ArrayList<>();
        Map<Bundle, Path> installed = new LinkedHashMap<>();
        for (Map.Entry<Path, String> e : bundles.entrySet()) {
            try {
                installed.put(context.installBundle("reference:" + e.getKey().toUri()), e.getKey());
            } catch (BundleException | RuntimeException ex) {
                loaded.add(LoadedPlugin.failed(e.getValue(), e.getKey().toString(), PluginReport.About.NONE,
                        "cannot be installed: " + ex.getMessage()));
            }
        }
        framework.adapt(FrameworkWiring.class).resolveBundles(installed.keySet());
        Map<Bundle, String> failures = new HashMap<>();
        for (Bundle bundle : installed.keySet()) {
            if (bundle.getHeaders().get(Constants.FRAGMENT_HOST) != null) {
                continue;
            }
            try {
                bundle.start();
            } catch (BundleException | RuntimeException e) {
                failures.put(bundle, reason(e));
            }
        }
        Map<Bundle, List<ComponentFactory<?>>> services = services(context);
        for (Map.Entry<Bundle, Path> e : installed.entrySet()) {
            Bundle bundle = e.getKey();
            String name = "osgi:" + bundle.getSymbolicName();
            String location = e.getValue().toString();
            PluginReport.About about = new PluginReport.About(bundle.getVersion().toString(),
                    bundle.getHeaders().get(Constants.BUNDLE_DESCRIPTION));
            if (failures.containsKey(bundle)) {
                loaded.add(LoadedPlugin.failed(name, location, about, failures.get(bundle)));
                continue;
            }
            URL file = bundle.getEntry(ProviderFiles.PATH);
            ProviderFiles.Found found = ProviderFiles.instantiate(
                    ProviderFiles.classNames(file == null ? List.of() : List.of(file)), bundle::loadClass);
            List<ComponentFactory<?>> factories = new ArrayList<>(found.factories());
            factories.addAll(services.getOrDefault(bundle, List.of()));
            loaded.add(new LoadedPlugin(name, location, about, true, factories, found.problems()));
        }
        return loaded;
    }

    /** The factories bundles registered as OSGi services, by registering bundle. */
    @SuppressWarnings("rawtypes")
    private static Map<Bundle, List<ComponentFactory<?>>> services(BundleContext context) {
        Map<Bundle, List<ComponentFactory<?>>> byBundle = new HashMap<>();
        try {
            Collection<ServiceReference<ComponentFactory>> refs =
                    context.getServiceReferences(ComponentFactory.class, null);
            for (ServiceReference<ComponentFactory> ref : refs) {
                ComponentFactory<?> factory = context.getService(ref);
                if (factory != null) {
                    byBundle.computeIfAbsent(ref.getBundle(), b -> new ArrayList<>()).add(factory);
                }
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException("no filter was given", e);
        }
        return byBundle;
    }

    /** The framework's message, with the cause a bundle's activator threw. */
    private static String reason(Exception e) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        int cut = message.indexOf(" Unresolved requirements:");
        if (cut > 0) {
            message = message.substring(0, cut);
        }
        if (e.getCause() != null && e.getCause() != e) {
            message += " caused by " + e.getCause();
        }
        return message;
    }

    /** The symbolic names of the bundles the framework holds besides the system bundle (for tests). */
    List<String> bundleNames() {
        List<String> names = new ArrayList<>();
        for (Bundle b : framework.getBundleContext().getBundles()) {
            if (b.getBundleId() != 0) {
                names.add(b.getSymbolicName());
            }
        }
        return Collections.unmodifiableList(names);
    }

    @Override
    public void close() {
        try {
            framework.stop();
            framework.waitForStop(30_000);
        } catch (BundleException e) {
            throw new IllegalStateException("cannot stop the OSGi framework: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Felix's own log goes to the host's logging instead of standard output. */
    private static final class Slf4jLogger extends Logger {
        private static final org.slf4j.Logger LOG = LoggerFactory.getLogger(Felix.class);

        @Override
        protected void doLog(int level, String message, Throwable error) {
            switch (level) {
                case LOG_ERROR -> LOG.error(message, error);
                case LOG_WARNING -> LOG.warn(message, error);
                case LOG_INFO -> LOG.info(message, error);
                default -> LOG.debug(message, error);
            }
        }
    }
}

package dev.montage.runtime.registry;

import dev.montage.api.PluginException;
import dev.montage.api.spi.ComponentFactory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code META-INF/services/dev.montage.api.spi.ComponentFactory} files of a plugin, read the way
 * {@link java.util.ServiceLoader} reads them, but only the plugin's own (never those its class loader could reach
 * in the host), with the plugin's classes. One packaging serves all three sources: the classpath, an OSGi bundle
 * and a PF4J plugin list their factories the same way.
 */
final class ProviderFiles {
    /** Where a plugin lists its factories. */
    static final String PATH = "META-INF/services/" + ComponentFactory.class.getName();

    /** Loads a class of the plugin by name. */
    @FunctionalInterface
    interface ClassSource {
        Class<?> load(String name) throws ClassNotFoundException;
    }

    /** Factories found, and why the others could not be made. */
    record Found(List<ComponentFactory<?>> factories, List<String> problems) {
    }

    private ProviderFiles() {
    }

    /** Class names listed in the provider files ({@code #} comments and blank lines skipped). */
    static List<String> classNames(List<URL> files) {
        List<String> names = new ArrayList<>();
        for (URL file : files) {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(file.openStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    int hash = line.indexOf('#');
                    String name = (hash < 0 ? line : line.substring(0, hash)).trim();
                    if (!name.isEmpty() && !names.contains(name)) {
                        names.add(name);
                    }
                }
            } catch (IOException e) {
                throw new PluginException("cannot read the provider file " + file + ": " + e.getMessage(), e);
            }
        }
        return names;
    }

    /** Instantiates every listed factory through its public no-argument constructor. */
    static Found instantiate(List<String> classNames, ClassSource classes) {
        List<ComponentFactory<?>> factories = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (String name : classNames) {
            try {
                Class<?> type = classes.load(name);
                if (!ComponentFactory.class.isAssignableFrom(type)) {
                    problems.add(name + " is not a " + ComponentFactory.class.getName() + " of the host's api"
                            + (isOtherApi(type) ? " (the plugin carries its own copy of montage-api; import or "
                                    + "leave it to the host)" : ""));
                    continue;
                }
                factories.add((ComponentFactory<?>) type.getConstructor().newInstance());
            } catch (ClassNotFoundException | NoClassDefFoundError e) {
                problems.add("cannot load " + name + ": " + e);
            } catch (NoSuchMethodException e) {
                problems.add(name + " has no public no-argument constructor");
            } catch (InvocationTargetException e) {
                problems.add("the constructor of " + name + " threw " + e.getCause());
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                problems.add("cannot create " + name + ": " + e);
            }
        }
        return new Found(factories, problems);
    }

    private static boolean isOtherApi(Class<?> type) {
        for (Class<?> i : type.getInterfaces()) {
            if (i.getName().equals(ComponentFactory.class.getName())) {
                return true;
            }
        }
        return false;
    }
}

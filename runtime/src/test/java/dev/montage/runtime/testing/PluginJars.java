package dev.montage.runtime.testing;

import dev.montage.api.spi.ComponentFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Builds plugin jars and zips from test classes, as a third party would package them. */
public final class PluginJars {
    /** The provider file listing a plugin's factories. */
    private static final String PROVIDERS = "META-INF/services/" + ComponentFactory.class.getName();

    private final Map<String, String> manifest = new LinkedHashMap<>();
    private final Map<String, byte[]> entries = new LinkedHashMap<>();

    /** An OSGi bundle importing {@code importPackage} (the Import-Package header). */
    public static PluginJars bundle(String symbolicName, String importPackage) {
        PluginJars jar = new PluginJars();
        jar.manifest.put("Bundle-ManifestVersion", "2");
        jar.manifest.put("Bundle-SymbolicName", symbolicName);
        jar.manifest.put("Bundle-Version", "1.0.0");
        jar.manifest.put("Import-Package", importPackage);
        return jar;
    }

    /** A PF4J plugin jar; {@code requires} is its Plugin-Requires header, none when null. */
    public static PluginJars pf4j(String id, String requires) {
        PluginJars jar = new PluginJars();
        jar.manifest.put("Plugin-Id", id);
        jar.manifest.put("Plugin-Version", "1.0.0");
        if (requires != null) {
            jar.manifest.put("Plugin-Requires", requires);
        }
        return jar;
    }

    /** A jar with no plugin headers. */
    public static PluginJars plain() {
        return new PluginJars();
    }

    /** Sets a manifest header. */
    public PluginJars header(String name, String value) {
        manifest.put(name, value);
        return this;
    }

    /** Adds classes, read from the test class path. */
    public PluginJars classes(Class<?>... classes) {
        for (Class<?> c : classes) {
            String path = c.getName().replace('.', '/') + ".class";
            try (InputStream in = c.getClassLoader().getResourceAsStream(path)) {
                entries.put(path, in.readAllBytes());
            } catch (IOException e) {
                throw new IllegalStateException(path, e);
            }
        }
        return this;
    }

    /** Adds factory classes and lists them in the provider file. */
    public PluginJars factories(Class<?>... factories) {
        classes(factories);
        StringBuilder file = new StringBuilder("# test plugin\n");
        for (Class<?> f : factories) {
            file.append(f.getName()).append('\n');
        }
        entries.put(PROVIDERS, file.toString().getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /** Writes the jar. */
    public Path writeJar(Path file) throws IOException {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.forEach((k, v) -> m.getMainAttributes().putValue(k, v));
        try (OutputStream out = Files.newOutputStream(file); JarOutputStream jar = new JarOutputStream(out, m)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                jar.putNextEntry(new ZipEntry(e.getKey()));
                jar.write(e.getValue());
                jar.closeEntry();
            }
        }
        return file;
    }

    /** A PF4J zip: {@code plugin.properties} and this jar under {@code lib/}. */
    public Path writePf4jZip(Path file, String id, String requires) throws IOException {
        Path jar = writeJar(Files.createTempFile(file.getParent().getParent(), id, ".jar"));
        String props = "plugin.id=" + id + "\nplugin.version=1.0.0\n" + (requires == null ? "" : "plugin.requires="
                + requires + "\n");
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(file))) {
            for (Map.Entry<String, byte[]> e : List.of(Map.entry("plugin.properties",
                    props.getBytes(StandardCharsets.UTF_8)), Map.entry("lib/" + id + ".jar", Files.readAllBytes(jar)))) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
        Files.delete(jar);
        return file;
    }
}

package dev.montage.runtime.registry;

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
final class PluginJars {
    private final Map<String, String> manifest = new LinkedHashMap<>();
    private final Map<String, byte[]> entries = new LinkedHashMap<>();

    static PluginJars bundle(String symbolicName, String importPackage) {
        PluginJars jar = new PluginJars();
        jar.manifest.put("Bundle-ManifestVersion", "2");
        jar.manifest.put("Bundle-SymbolicName", symbolicName);
        jar.manifest.put("Bundle-Version", "1.0.0");
        jar.manifest.put("Import-Package", importPackage);
        return jar;
    }

    static PluginJars pf4j(String id, String requires) {
        PluginJars jar = new PluginJars();
        jar.manifest.put("Plugin-Id", id);
        jar.manifest.put("Plugin-Version", "1.0.0");
        if (requires != null) {
            jar.manifest.put("Plugin-Requires", requires);
        }
        return jar;
    }

    static PluginJars plain() {
        return new PluginJars();
    }

    PluginJars header(String name, String value) {
        manifest.put(name, value);
        return this;
    }

    /** Adds classes (read from the test class path) and lists the factories among them in the provider file. */
    PluginJars classes(Class<?>... classes) {
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

    PluginJars factories(Class<?>... factories) {
        classes(factories);
        StringBuilder file = new StringBuilder("# test plugin\n");
        for (Class<?> f : factories) {
            file.append(f.getName()).append('\n');
        }
        entries.put(ProviderFiles.PATH, file.toString().getBytes(StandardCharsets.UTF_8));
        return this;
    }

    Path writeJar(Path file) throws IOException {
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
    Path writePf4jZip(Path file, String id, String requires) throws IOException {
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

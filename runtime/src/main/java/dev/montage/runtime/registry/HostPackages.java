package dev.montage.runtime.registry;

import dev.montage.api.MontageApi;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The packages the host shares with plugins, so that every plugin sees the host's classes (one API, one DJL, one
 * native PyTorch): {@code dev.montage.api*}, {@code ai.djl*} and Jackson. OSGi bundles import them from the
 * system bundle; PF4J plugin class loaders load them from the host first, whatever the plugin embeds.
 */
final class HostPackages {
    /** Package prefixes always loaded from the host. */
    static final List<String> PREFIXES = List.of("dev.montage.api", "ai.djl", "com.fasterxml.jackson");

    /** One class of each artifact that holds shared packages; the prefix and the version when it has no OSGi export. */
    private record Anchor(String className, String prefix, String fallbackVersion) {
    }

    private static final List<Anchor> ANCHORS = List.of(
            new Anchor("dev.montage.api.MontageApi", "dev.montage.api", MontageApi.VERSION),
            new Anchor("ai.djl.ndarray.NDArray", "ai.djl", null),
            new Anchor("ai.djl.pytorch.engine.PtEngine", "ai.djl", null),
            new Anchor("com.fasterxml.jackson.annotation.JsonProperty", "com.fasterxml.jackson", null),
            new Anchor("com.fasterxml.jackson.core.JsonFactory", "com.fasterxml.jackson", null),
            new Anchor("com.fasterxml.jackson.databind.ObjectMapper", "com.fasterxml.jackson", null));

    private static final Pattern VERSION = Pattern.compile("^(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?");

    private HostPackages() {
    }

    /** Whether a class is one the host provides to every plugin. */
    static boolean isShared(String className) {
        for (String prefix : PREFIXES) {
            if (className.startsWith(prefix + ".")) {
                return true;
            }
        }
        return false;
    }

    /**
     * The OSGi {@code Export-Package} clauses of the shared packages the host's class loader has, for
     * {@code org.osgi.framework.system.packages.extra}: an artifact's own {@code Export-Package} header when it is a
     * bundle (the api, Jackson), otherwise every package of it under the prefix at the artifact's version (DJL).
     */
    static String systemPackagesExtra(ClassLoader host) {
        Set<Path> seen = new LinkedHashSet<>();
        List<String> clauses = new ArrayList<>();
        for (Anchor anchor : ANCHORS) {
            Path source = codeSource(anchor.className(), host);
            if (source == null || !seen.add(source)) {
                continue;
            }
            Manifest manifest = manifest(source);
            String exports = manifest == null ? null : manifest.getMainAttributes().getValue("Export-Package");
            if (exports != null && !exports.isBlank()) {
                clauses.add(exports.trim());
                continue;
            }
            String version = osgiVersion(manifest, anchor.fallbackVersion(), anchor.className());
            for (String pkg : packages(source, anchor.prefix())) {
                clauses.add(pkg + ";version=\"" + version + "\"");
            }
        }
        return String.join(",", clauses);
    }

    /** The jar or class folder a class comes from, or {@code null} when the host lacks it. */
    private static Path codeSource(String className, ClassLoader host) {
        try {
            CodeSource cs = Class.forName(className, false, host).getProtectionDomain().getCodeSource();
            return cs == null || cs.getLocation() == null ? null : Path.of(cs.getLocation().toURI());
        } catch (ClassNotFoundException e) {
            return null;
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot locate the jar of " + className, e);
        }
    }

    private static Manifest manifest(Path source) {
        try {
            if (Files.isDirectory(source)) {
                Path file = source.resolve("META-INF/MANIFEST.MF");
                if (!Files.isRegularFile(file)) {
                    return null;
                }
                try (InputStream in = Files.newInputStream(file)) {
                    return new Manifest(in);
                }
            }
            try (JarFile jar = new JarFile(source.toFile())) {
                return jar.getManifest();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the manifest of " + source, e);
        }
    }

    /** {@code major.minor.micro} of the artifact's version (OSGi syntax; Maven qualifiers dropped). */
    private static String osgiVersion(Manifest manifest, String fallback, String className) {
        String raw = fallback;
        if (raw == null && manifest != null) {
            for (String header : new String[] {"Bundle-Version", "Specification-Version", "Implementation-Version"}) {
                raw = manifest.getMainAttributes().getValue(header);
                if (raw != null) {
                    break;
                }
            }
        }
        Matcher m = raw == null ? null : VERSION.matcher(raw.trim());
        if (m == null || !m.find()) {
            throw new IllegalStateException("the jar of " + className + " declares no version in its manifest");
        }
        return m.group(1) + "." + (m.group(2) == null ? "0" : m.group(2)) + "." + (m.group(3) == null ? "0" : m.group(3));
    }

    /** The packages under {@code prefix} that hold classes in a jar or class folder. */
    private static Set<String> packages(Path source, String prefix) {
        Set<String> packages = new TreeSet<>();
        try {
            if (Files.isDirectory(source)) {
                try (Stream<Path> files = Files.walk(source)) {
                    files.filter(f -> f.toString().endsWith(".class"))
                            .forEach(f -> addPackage(source.relativize(f).toString().replace('\\', '/'), prefix,
                                    packages));
                }
            } else {
                try (JarFile jar = new JarFile(source.toFile())) {
                    for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
                        String name = e.nextElement().getName();
                        if (name.endsWith(".class") && !name.startsWith("META-INF/")) {
                            addPackage(name, prefix, packages);
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the packages of " + source, e);
        }
        return packages;
    }

    private static void addPackage(String classFile, String prefix, Set<String> packages) {
        int slash = classFile.lastIndexOf('/');
        if (slash > 0) {
            String pkg = classFile.substring(0, slash).replace('/', '.');
            if (pkg.equals(prefix) || pkg.startsWith(prefix + ".")) {
                packages.add(pkg);
            }
        }
    }
}

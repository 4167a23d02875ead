package dev.montage.runtime.registry;

import dev.montage.api.PluginException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.jar.Attributes;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Sorts the files of a {@code plugins/} folder to the source that understands them: a jar whose manifest has a
 * {@code Bundle-SymbolicName} goes to OSGi; a jar or zip with a PF4J descriptor ({@code Plugin-Id} in the
 * manifest or a {@code plugin.properties}), and a folder with {@code plugin.properties}, go to PF4J. A file that
 * declares both is a bundle. Other jars and zips are reported; other files (README, ...) are ignored.
 */
final class PluginFolder {
    /** Which source a file belongs to. */
    enum Kind { OSGI, PF4J, UNKNOWN }

    /**
     * One file of the folder.
     *
     * @param file the file or folder
     * @param kind where it goes
     * @param name {@code osgi:<bsn>}, {@code pf4j:<id>}, or the file name when it is neither
     * @param why  for {@link Kind#UNKNOWN}: why it is no plugin; otherwise {@code null}
     */
    record Candidate(Path file, Kind kind, String name, String why) {
        Candidate(Path file, Kind kind, String name) {
            this(file, kind, name, null);
        }
    }

    static final String PF4J_PROPERTIES = "plugin.properties";

    private PluginFolder() {
    }

    /** The plugin candidates of a folder, by file name; none when the folder does not exist. */
    static List<Candidate> scan(Path folder) {
        List<Candidate> candidates = new ArrayList<>();
        if (!Files.isDirectory(folder)) {
            return candidates;
        }
        try (Stream<Path> files = Files.list(folder)) {
            for (Path file : files.sorted().toList()) {
                Candidate c = classify(file);
                if (c != null) {
                    candidates.add(c);
                }
            }
        } catch (IOException e) {
            throw new PluginException("cannot list the plugins folder " + folder + ": " + e.getMessage(), e);
        }
        return candidates;
    }

    /** The candidate a file is, or {@code null} for a file that is no plugin format at all. */
    static Candidate classify(Path file) {
        String fileName = file.getFileName().toString();
        String lower = fileName.toLowerCase(Locale.ROOT);
        if (fileName.startsWith(".")) {
            return null;
        }
        if (Files.isDirectory(file)) {
            String id = pf4jId(null, properties(file.resolve(PF4J_PROPERTIES)));
            return id == null ? null : new Candidate(file, Kind.PF4J, "pf4j:" + id);
        }
        if (!lower.endsWith(".jar") && !lower.endsWith(".zip")) {
            return null;
        }
        try (ZipFile zip = new ZipFile(file.toFile())) {
            Manifest manifest = null;
            ZipEntry m = zip.getEntry("META-INF/MANIFEST.MF");
            if (m != null) {
                try (InputStream in = zip.getInputStream(m)) {
                    manifest = new Manifest(in);
                }
            }
            Attributes main = manifest == null ? new Attributes() : manifest.getMainAttributes();
            String bsn = main.getValue("Bundle-SymbolicName");
            if (bsn != null && lower.endsWith(".jar")) {
                int semicolon = bsn.indexOf(';');
                return new Candidate(file, Kind.OSGI, "osgi:" + (semicolon < 0 ? bsn : bsn.substring(0, semicolon))
                        .trim());
            }
            Properties props = null;
            ZipEntry p = zip.getEntry(PF4J_PROPERTIES);
            if (p != null) {
                props = new Properties();
                try (InputStream in = zip.getInputStream(p)) {
                    props.load(in);
                }
            }
            String id = pf4jId(main, props);
            if (id != null) {
                return new Candidate(file, Kind.PF4J, "pf4j:" + id);
            }
        } catch (IOException e) {
            return new Candidate(file, Kind.UNKNOWN, fileName, "not a readable jar or zip: " + e.getMessage());
        }
        return new Candidate(file, Kind.UNKNOWN, fileName, "neither an OSGi bundle (no Bundle-SymbolicName in its "
                + "manifest) nor a PF4J plugin (no Plugin-Id in its manifest, no " + PF4J_PROPERTIES + ")");
    }

    private static String pf4jId(Attributes manifest, Properties props) {
        String id = manifest == null ? null : manifest.getValue("Plugin-Id");
        if ((id == null || id.isBlank()) && props != null) {
            id = props.getProperty("plugin.id");
        }
        return id == null || id.isBlank() ? null : id.trim();
    }

    private static Properties properties(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        Properties props = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            props.load(in);
        } catch (IOException e) {
            throw new PluginException("cannot read the plugin descriptor " + file + ": " + e.getMessage(), e);
        }
        return props;
    }
}

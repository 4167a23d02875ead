package dev.montage.dist;

import dev.montage.runtime.registry.InstalledPlugins;
import dev.montage.runtime.registry.PluginReport;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * Where the {@code montage} commands find plugins: the classpath (built-in plugins in an IDE or when Montage is
 * embedded), the distribution's {@code plugins/} folder (the launcher passes the distribution home as
 * {@code montage.dist.home}) and any folder given with {@code --plugins}, which must exist.
 */
final class PluginOptions {
    @Option(names = "--plugins", paramLabel = "DIR",
            description = "Another plugins folder (OSGi bundles, PF4J plugins) besides the distribution's plugins/ "
                    + "(repeatable).")
    List<Path> folders = new ArrayList<>();

    /**
     * Loads every plugin; problems are in the result's reports.
     *
     * @throws IllegalArgumentException naming a {@code --plugins} folder that does not exist or is not a folder (the
     *     distribution's own {@code plugins/} may be absent: then it holds none)
     */
    InstalledPlugins load() {
        for (Path folder : folders) {
            if (!Files.isDirectory(folder)) {
                throw new IllegalArgumentException("--plugins " + folder + ": " + (Files.exists(folder)
                        ? "not a folder" : "no such folder") + "; expected a folder of plugin jars (OSGi bundles, "
                        + "PF4J plugins)");
            }
        }
        InstalledPlugins.Builder builder = InstalledPlugins.builder().classpath(Montage.class.getClassLoader());
        String home = System.getProperty("montage.dist.home");
        if (home != null && !home.isBlank()) {
            builder.folder(Path.of(home, "plugins"));
        }
        folders.forEach(builder::folder);
        return builder.load();
    }

    /** One line per plugin that failed or had a component refused, so a broken plugin is named at startup. */
    static void warn(InstalledPlugins plugins, PrintWriter err) {
        for (PluginReport r : plugins.problems()) {
            for (String problem : r.problems()) {
                err.println("montage: plugin " + r.name() + " (" + r.location() + ") "
                        + (r.state() == PluginReport.State.FAILED ? "failed: " : "") + problem);
            }
            for (PluginReport.Component c : r.components()) {
                if (!c.registered()) {
                    err.println("montage: plugin " + r.name() + ": " + kind(c) + " '" + c.id() + "' refused: "
                            + c.refusal());
                }
            }
        }
    }

    /** {@code scheduler}, {@code condition preprocessor}, ... */
    static String kind(PluginReport.Component c) {
        return c.kind().name().toLowerCase(Locale.ROOT).replace('_', ' ');
    }
}

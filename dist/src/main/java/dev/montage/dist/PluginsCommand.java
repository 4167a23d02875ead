package dev.montage.dist;

import dev.montage.runtime.registry.InstalledPlugins;
import dev.montage.runtime.registry.PluginReport;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code montage plugins}: what is installed, from which source, in which state. */
@Command(name = "plugins", mixinStandardHelpOptions = true,
        description = {"List the installed components (kind, id, source, version, state), each plugin's version and "
                + "description, and the plugins that failed, with the reason.",
                "Sources: classpath, osgi:<Bundle-SymbolicName>, pf4j:<Plugin-Id>.",
                "Exit code 1 when a plugin failed or a component was refused."})
final class PluginsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    PluginOptions plugins;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (InstalledPlugins installed = plugins.load()) {
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"KIND", "ID", "SOURCE", "VERSION", "STATE"});
            List<String> about = new ArrayList<>();
            List<String> failed = new ArrayList<>();
            for (PluginReport r : installed.reports()) {
                for (PluginReport.Component c : r.components()) {
                    rows.add(new String[] {PluginOptions.kind(c), c.id(), r.name(), version(r),
                            c.registered() ? "active" : "refused: " + c.refusal()});
                }
                if (!r.components().isEmpty() || !r.name().equals("classpath") && r.healthy()) {
                    about.add(about(r));
                }
                for (String problem : r.problems()) {
                    failed.add(r.name() + " (" + r.location() + "): " + problem);
                }
            }
            print(out, rows);
            out.println();
            out.println("plugins:");
            about.forEach(a -> out.println("  " + a));
            if (!failed.isEmpty()) {
                out.println();
                out.println("failed plugins:");
                failed.forEach(f -> out.println("  " + f));
            }
            return installed.problems().isEmpty() ? 0 : 1;
        }
    }

    private static String version(PluginReport r) {
        return r.about().version().isEmpty() ? "-" : r.about().version();
    }

    /** Name (a classpath plugin with its jar or folder), version and description. */
    private static String about(PluginReport r) {
        String name = r.name().equals("classpath") ? "classpath " + r.location() : r.name();
        return name + " " + version(r) + (r.about().description().isEmpty() ? "" : ": " + r.about().description());
    }

    /** Left-aligned columns; the last one is not padded. */
    private static void print(PrintWriter out, List<String[]> rows) {
        int[] widths = new int[rows.get(0).length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                line.append(i < row.length - 1 ? String.format("%-" + (widths[i] + 2) + "s", row[i]) : row[i]);
            }
            out.println(line);
        }
    }
}

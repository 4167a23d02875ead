package dev.montage.dist;

import dev.montage.runtime.MontagePipeline;
import dev.montage.runtime.config.ResolvedProfile;
import dev.montage.runtime.registry.InstalledPlugins;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code montage profile}: configuration profiles. */
@Command(name = "profile", mixinStandardHelpOptions = true, description = "Configuration profiles.",
        subcommands = {ProfileCommand.Check.class})
final class ProfileCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @ParentCommand
    Montage montage;

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: check");
    }

    /**
     * {@code montage profile check}: resolves and checks a configuration without loading any weight; with model paths,
     * also that the components fit together, as a build would check before loading (a server launched from the
     * profile would otherwise find out at start).
     */
    @Command(name = "check", mixinStandardHelpOptions = true, description = "Layer the profiles, MONTAGE_* "
            + "environment variables and flags, check the result (keys, types, model folders and files, component ids, "
            + "device, dtype, and that the components' sizes in their config.json files fit together) and print it "
            + "with where each value came from; exit non-zero listing every problem.")
    static final class Check implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @ParentCommand
        ProfileCommand parent;

        @Mixin
        ConfigurationOptions configuration;

        @Mixin
        PluginOptions plugins;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            // component ids are checked against the installed plugins, the distribution's bundles included
            try (InstalledPlugins installed = plugins.load()) {
                PluginOptions.warn(installed, spec.commandLine().getErr());
                MontagePipeline.Builder builder = configuration.builder(parent.montage.environment(),
                        installed.registry());
                ResolvedProfile resolved = builder.resolve();
                boolean embedded = resolved.profile().models().isEmpty();
                if (!embedded) {
                    builder.validate();
                }
                out.print(resolved.describe());
                if (embedded) {
                    out.println("# no model paths: montage generate uses the embedded default model (tiny, RANDOM "
                            + "weights)");
                }
            }
            out.println("profile OK");
            return 0;
        }
    }
}

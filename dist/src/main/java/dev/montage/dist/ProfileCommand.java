package dev.montage.dist;

import dev.montage.runtime.config.Profile;
import dev.montage.runtime.config.ResolvedProfile;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.registry.InstalledPlugins;
import dev.montage.runtime.registry.SlotOptions;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

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
            + "environment variables and flags, check the result (keys, types, model folders and files, component ids "
            + "and options, device, dtype, and that the components' sizes in their config.json files fit together) "
            + "and print it with where each value came from, then the options each of its components takes; exit "
            + "non-zero listing every problem.")
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
                boolean unwritten = !embedded && builder.validate().profile().models().base().isEmpty();
                out.print(resolved.describe());
                if (unwritten) {
                    out.println("# models.random: " + resolved.profile().models().random().orElseThrow() + " is not "
                            + "written yet; a check does not write it, and its files are made to fit the installed "
                            + "components when a command first uses it");
                }
                if (embedded) {
                    out.println("# no model: montage generate uses the embedded default model (models.random: tiny, RANDOM "
                            + "weights)");
                }
                out.print(componentOptions(resolved.profile(), installed.registry()));
            }
            out.println("profile OK");
            return 0;
        }
    }

    /**
     * The options each component of a profile takes, as comments: per slot ({@code options.<slot>}) and component,
     * each option's name, type, range, default and what it does.
     */
    static String componentOptions(Profile profile, ComponentRegistry registry) {
        StringBuilder out = new StringBuilder("# the options of the components, set as options.<slot>.<name> (every "
                + "installed scheduler reads options.scheduler; shown: the default one):\n");
        profile.componentsBySlot(profile.recipe(registry)).forEach((kind, ids) -> SlotOptions.declared(registry, kind, ids)
                .forEach((component, declared) -> {
                    out.append("#   ").append(SlotOptions.key(kind)).append(", ").append(component)
                            .append(declared.isEmpty() ? ": none\n" : ":\n");
                    declared.forEach(option -> out.append("#     ").append(option.describe()).append('\n'));
                }));
        return out.toString();
    }
}

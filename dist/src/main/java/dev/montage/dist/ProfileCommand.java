package dev.montage.dist;

import dev.montage.runtime.config.ResolvedProfile;
import dev.montage.runtime.registry.ComponentRegistry;
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

    /** {@code montage profile check}: resolves and checks a configuration without loading any weight. */
    @Command(name = "check", mixinStandardHelpOptions = true, description = "Layer the profiles, MONTAGE_* "
            + "environment variables and flags, check the result (keys, types, model folders and files, component ids, "
            + "device, dtype) and print it with where each value came from; exit non-zero listing every problem.")
    static final class Check implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @ParentCommand
        ProfileCommand parent;

        @Mixin
        ConfigurationOptions configuration;

        @Override
        public Integer call() {
            ComponentRegistry registry = ComponentRegistry.fromClasspath(Montage.class.getClassLoader());
            ResolvedProfile resolved = configuration.builder(parent.montage.environment(), registry).resolve();
            PrintWriter out = spec.commandLine().getOut();
            out.print(resolved.describe());
            if (resolved.profile().models().isEmpty()) {
                out.println("# no model paths: montage generate uses the embedded default model (tiny, RANDOM weights)");
            }
            out.println("profile OK");
            return 0;
        }
    }
}

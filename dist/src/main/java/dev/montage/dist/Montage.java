package dev.montage.dist;

import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code montage} command. */
@Command(name = "montage", mixinStandardHelpOptions = true, versionProvider = Montage.Version.class,
        description = "Multi-subject, layout-guided image generation (MS-Diffusion on SDXL).",
        subcommands = {GenerateCommand.class, ProfileCommand.class, MakeRandomModelCommand.class,
            PreprocessCommand.class, PluginsCommand.class, ModelsCommand.class, ConvertCommand.class,
            BenchCommand.class, ServeCommand.class, SubmitCommand.class})
public final class Montage {
    private final Map<String, String> environment;

    private Montage(Map<String, String> environment) {
        this.environment = Map.copyOf(environment);
    }

    /** The environment variables the commands read ({@code MONTAGE_*} profile overrides). */
    Map<String, String> environment() {
        return environment;
    }

    /** Runs the command line and exits with its code. */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (for tests and embedding). */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /** Runs the command line with its output and errors going to the given writers (for tests). */
    static int run(PrintWriter out, PrintWriter err, String... args) {
        return run(System.getenv(), out, err, args);
    }

    /** Runs the command line with these environment variables and output streams, and returns its exit code. */
    static int run(Map<String, String> environment, PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = commandLine(environment);
        cli.setOut(out);
        cli.setErr(err);
        return cli.execute(args);
    }

    /** The command line with Montage's error reporting, for callers that redirect its output. */
    static CommandLine commandLine() {
        return commandLine(System.getenv());
    }

    /** The command line reading these environment variables (for tests that drive a command step by step). */
    static CommandLine commandLine(Map<String, String> environment) {
        CommandLine cli = new CommandLine(new Montage(environment));
        cli.setExecutionExceptionHandler((e, command, parsed) -> {
            // a user error is reported as one line naming what is wrong (a profile's problems one a line);
            // anything else keeps its stack trace
            if (e instanceof IllegalArgumentException || e instanceof java.io.UncheckedIOException
                    || e instanceof java.io.IOException || e instanceof IllegalStateException) {
                command.getErr().println("montage: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cli;
    }

    /** The version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Montage.class.getPackage().getImplementationVersion();
            return new String[] {"montage " + (v == null ? "development build" : v)};
        }
    }
}

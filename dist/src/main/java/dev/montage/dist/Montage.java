package dev.montage.dist;

import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code montage} command. */
@Command(name = "montage", mixinStandardHelpOptions = true, versionProvider = Montage.Version.class,
        description = "Multi-subject, layout-guided image generation (MS-Diffusion on SDXL).",
        subcommands = {GenerateCommand.class, ProfileCommand.class, MakeRandomModelCommand.class})
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
        return execute(new CommandLine(new Montage(System.getenv())), args);
    }

    /** Runs the command line with these environment variables and output streams, and returns its exit code. */
    static int run(Map<String, String> environment, PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new Montage(environment));
        cli.setOut(out);
        cli.setErr(err);
        return execute(cli, args);
    }

    private static int execute(CommandLine cli, String[] args) {
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
        return cli.execute(args);
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

package dev.montage.dist;

import dev.montage.api.GenerationCancelledException;
import dev.montage.api.MontageApi;
import dev.montage.api.MontageException;
import dev.montage.api.spi.Suggestions;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.UnmatchedArgumentException;

/** The {@code montage} command. */
@Command(name = "montage", mixinStandardHelpOptions = true, versionProvider = Montage.Version.class,
        description = "Multi-subject, layout-guided image generation (MS-Diffusion on SDXL).",
        subcommands = {GenerateCommand.class, ProfileCommand.class, MakeRandomModelCommand.class,
            PreprocessCommand.class, PluginsCommand.class, ModelsCommand.class, ConvertCommand.class,
            BenchCommand.class, ServeCommand.class, SubmitCommand.class, BatchCommand.class})
public final class Montage {
    /** The exit code of a command whose generation was cancelled (a shell's code for an interrupted command). */
    static final int EXIT_CANCELLED = 130;

    private final Map<String, String> environment;

    @Option(names = "--verbose", scope = ScopeType.INHERIT, description = "Also say which lines of native "
            + "libraries' output were left out (DJL's CUDA probe on a machine without CUDA, PyTorch's NNPACK notice).")
    boolean verbose;

    private Montage(Map<String, String> environment) {
        this.environment = Map.copyOf(environment);
    }

    /** The environment variables the commands read ({@code MONTAGE_*} profile overrides). */
    Map<String, String> environment() {
        return environment;
    }

    /**
     * Runs the command line and exits with its code. Standard error is filtered meanwhile (see {@link StandardError});
     * with {@code --verbose} the lines left out are listed at the end.
     */
    public static void main(String[] args) {
        StandardError filter = StandardError.filter();
        CommandLine cli = commandLine();
        int code = cli.execute(args);
        if (filter != null) {
            filter.close();
            Montage montage = cli.getCommand();
            if (montage.verbose) {
                List<String> filtered = filter.filtered();
                System.err.println(filtered.isEmpty() ? "montage: nothing was left out of native libraries' output"
                        : "montage: left out of native libraries' output:");
                filtered.forEach(line -> System.err.println("montage:   " + line));
            }
        }
        System.exit(code);
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
        CommandLine.IParameterExceptionHandler usage = cli.getParameterExceptionHandler();
        cli.setParameterExceptionHandler((e, args) -> {
            String unknown = unknownOptions(e);
            if (unknown == null) {
                return usage.handleParseException(e, args);
            }
            e.getCommandLine().getErr().println(unknown);
            e.getCommandLine().getErr().println("Try '" + e.getCommandLine().getCommandSpec().qualifiedName()
                    + " --help' for the options.");
            return e.getCommandLine().getCommandSpec().exitCodeOnInvalidInput();
        });
        cli.setExecutionExceptionHandler((e, command, parsed) -> {
            // a user error is reported as one line naming what is wrong (a profile's problems one a line);
            // anything else keeps its stack trace
            if (e instanceof GenerationCancelledException) {
                command.getErr().println("montage: " + e.getMessage());
                return EXIT_CANCELLED;
            }
            if (e instanceof MontageException || e instanceof IllegalArgumentException
                    || e instanceof java.io.UncheckedIOException || e instanceof java.io.IOException
                    || e instanceof IllegalStateException) {
                command.getErr().println("montage: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cli;
    }

    /**
     * Unknown options named with the closest known one, e.g. {@code Unknown option: '--promt'; did you mean
     * --prompt?}, or {@code null} when the problem is another. A misspelt required option is reported so too:
     * picocli itself would only say that the required one is missing.
     */
    static String unknownOptions(ParameterException e) {
        List<String> unmatched = e instanceof UnmatchedArgumentException u ? u.getUnmatched()
                : e instanceof MissingParameterException ? e.getCommandLine().getUnmatchedArguments() : List.of();
        List<String> options = unmatched.stream().filter(a -> a.startsWith("-") && a.length() > 1).toList();
        if (options.isEmpty()) {
            return null;
        }
        List<String> known = e.getCommandLine().getCommandSpec().options().stream()
                .flatMap(o -> Arrays.stream(o.names())).toList();
        StringBuilder message = new StringBuilder();
        for (String option : options) {
            if (message.length() > 0) {
                message.append(System.lineSeparator());
            }
            message.append("Unknown option: '").append(option).append('\'')
                    .append(Suggestions.didYouMean(option.split("=", 2)[0], known));
        }
        return message.toString();
    }

    /**
     * The version this distribution was built as: the project's version and the commit it was built from (written
     * into {@value #VERSION_RESOURCE} by the build), and the plugin API it serves.
     */
    static final class Version implements CommandLine.IVersionProvider {
        static final String VERSION_RESOURCE = "version.properties";

        @Override
        public String[] getVersion() {
            Properties build = new Properties();
            try (InputStream in = Montage.class.getResourceAsStream(VERSION_RESOURCE)) {
                if (in == null) {
                    throw new IllegalStateException(VERSION_RESOURCE + " is missing from the montage jar");
                }
                build.load(in);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + VERSION_RESOURCE, e);
            }
            String commit = build.getProperty("commit", "").trim();
            return new String[] {"montage " + build.getProperty("version")
                    + (commit.isEmpty() ? "" : " (commit " + commit + ")"),
                "plugin API " + MontageApi.VERSION,
                "Java " + Runtime.version() + ", " + System.getProperty("os.name") + " " + System.getProperty("os.arch")};
        }
    }
}

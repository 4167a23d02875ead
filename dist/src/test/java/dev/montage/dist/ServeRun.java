package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * {@code montage serve ARGS} as the command line parses it, run in a thread of the test until {@link #stop()} (where
 * the real command waits for SIGTERM).
 */
final class ServeRun implements AutoCloseable {
    private static final Pattern SERVING = Pattern.compile("montage: serving .* on (http://\\S+) ");
    private static final long START_LIMIT_MILLIS = 300_000;

    final ServeCommand command;
    final ServeCommand.Configuration configuration;
    private final StringWriter err = new StringWriter();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final AtomicInteger code = new AtomicInteger(-1);
    private final Thread thread;
    private String url;

    private ServeRun(Map<String, String> environment, String... args) {
        command = parse(environment, err, args);
        configuration = command.configure(TinyModel.registry());
        thread = new Thread(() -> {
            try {
                code.set(command.serve(configuration, TinyModel.registry(), stop));
            } catch (Exception e) {
                err.write("failed: " + e);
                code.set(99);
            }
        }, "test-serve");
    }

    /** The command after parsing {@code serve ARGS}, writing its messages to {@code err}. */
    static ServeCommand parse(Map<String, String> environment, StringWriter err, String... args) {
        CommandLine cli = Montage.commandLine(environment);
        cli.setErr(new PrintWriter(err, true));
        List<String> line = new ArrayList<>(List.of("serve"));
        line.addAll(List.of(args));
        return (ServeCommand) cli.parseArgs(line.toArray(String[]::new)).subcommand().commandSpec().userObject();
    }

    /** Starts the server and waits for its serving line. */
    static ServeRun start(Map<String, String> environment, String... args) throws InterruptedException {
        ServeRun run = new ServeRun(environment, args);
        run.thread.start();
        long until = System.currentTimeMillis() + START_LIMIT_MILLIS;
        while (run.url == null && run.thread.isAlive() && System.currentTimeMillis() < until) {
            Matcher m = SERVING.matcher(run.log());
            run.url = m.find() ? m.group(1) : null;
            Thread.sleep(5);
        }
        if (run.url == null) {
            run.close();
        }
        assertTrue(run.url != null, "no serving line: " + run.log());
        return run;
    }

    /** The server's base URL, from its serving line. */
    String url() {
        return url;
    }

    /** What the command wrote to its error stream so far. */
    String log() {
        return err.toString();
    }

    /** Shuts the server down gracefully and returns the command's exit code. */
    int stop() throws InterruptedException {
        stop.countDown();
        thread.join();
        return code.get();
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}

package dev.montage.dist;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;

/**
 * What one in-process {@code montage} command printed and returned.
 *
 * @param code its exit code
 * @param out  what it printed on standard output
 * @param err  what it printed on standard error
 */
record CommandRun(int code, String out, String err) {

    /** Runs {@code montage args} in this JVM with these environment variables. */
    static CommandRun montage(Map<String, String> environment, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Montage.run(environment, new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new CommandRun(code, out.toString(), err.toString());
    }

    /** Runs {@code montage args} in this JVM with no environment variables. */
    static CommandRun montage(String... args) {
        return montage(Map.of(), args);
    }
}

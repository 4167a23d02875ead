package dev.montage.dist;

import dev.montage.api.ProgressListener;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * The progress of a generation on standard error: one line per stage with its time, e.g.
 * {@code montage: denoising 30/30 steps 41.2 s (1.37 s/step)}. On a terminal the running stage is also drawn, and
 * redrawn in place ({@code \r}), as it goes: its name, and while denoising a bar with the time per step and the time
 * left; a log file gets the finished lines only.
 */
final class ProgressBar implements ProgressListener {
    private static final int WIDTH = 30;
    private final PrintWriter out;
    private final String label;
    private final boolean terminal;
    private final LongSupplier nanoTime;
    private String stage;
    private long stageStart;
    private int steps;
    /** The steps done before the running stage's first: a second pass's stage counts on from the first pass's. */
    private int before = -1;
    private int total;
    /** Characters of the frame now on the line (terminal only), to blank what a shorter one does not cover. */
    private int frame;

    /** Draws frames when standard error is a terminal. */
    ProgressBar(PrintWriter out, String label) {
        this(out, label, StandardError.isTerminal(), System::nanoTime);
    }

    /**
     * @param label    put before every line, e.g. a job's id
     * @param terminal whether to draw the running stage in place
     * @param nanoTime the clock stages are timed with
     */
    ProgressBar(PrintWriter out, String label, boolean terminal, LongSupplier nanoTime) {
        this.out = out;
        this.label = label;
        this.terminal = terminal;
        this.nanoTime = nanoTime;
    }

    @Override
    public void onStage(String name) {
        finish();
        stage = name;
        stageStart = nanoTime.getAsLong();
        draw(stage + "...");
    }

    @Override
    public boolean onStep(int step, int total, Duration elapsed) {
        if (stage == null) {
            // steps alone (a remote generation's events): denoising started when the generation did
            onStage("denoising");
            stageStart -= elapsed.toNanos();
        }
        if (before < 0) {
            before = step - 1;
        }
        steps = step;
        this.total = total;
        int filled = step * WIDTH / total;
        double perStep = stageSeconds() / (step - before);
        draw(String.format(Locale.ROOT, "%s [%s%s] %d/%d  %.2f s/step  ETA %.0f s", stage, "#".repeat(filled),
                ".".repeat(WIDTH - filled), step, total, perStep, perStep * (total - step)));
        if (step == total) {
            finish();
        }
        return true;
    }

    /** Prints the line of the running stage, if any: call when the generation has ended. */
    void finish() {
        if (stage == null) {
            return;
        }
        double seconds = stageSeconds();
        String line = steps == 0 ? String.format(Locale.ROOT, "%s %.1f s", stage, seconds)
                : String.format(Locale.ROOT, "%s %d/%d steps %.1f s (%.2f s/step)", stage, steps, total, seconds,
                        seconds / (steps - before));
        stage = null;
        steps = 0;
        before = -1;
        message(line);
    }

    /** A line of its own, in place of the frame being drawn (which the next progress call draws again). */
    void message(String text) {
        String line = "montage: " + label + text;
        if (terminal) {
            out.print("\r" + line + " ".repeat(Math.max(0, frame - line.length())) + System.lineSeparator());
            frame = 0;
        } else {
            out.println(line);
        }
        out.flush();
    }

    private void draw(String text) {
        if (!terminal) {
            return;
        }
        String line = "montage: " + label + text;
        out.print("\r" + line + " ".repeat(Math.max(0, frame - line.length())));
        frame = line.length();
        out.flush();
    }

    private double stageSeconds() {
        return (nanoTime.getAsLong() - stageStart) / 1e9;
    }
}

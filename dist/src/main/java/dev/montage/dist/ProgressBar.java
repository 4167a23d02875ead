package dev.montage.dist;

import dev.montage.api.ProgressListener;
import java.io.PrintWriter;
import java.time.Duration;

/** A one-line progress bar for terminals: steps done, time per step and time left. */
final class ProgressBar implements ProgressListener {
    private static final int WIDTH = 30;
    private final PrintWriter out;
    private final String label;

    ProgressBar(PrintWriter out, String label) {
        this.out = out;
        this.label = label;
    }

    @Override
    public void onStage(String stage) {
        out.print("\r" + label + stage + "...");
        out.flush();
    }

    @Override
    public boolean onStep(int step, int total, Duration elapsed) {
        int filled = step * WIDTH / total;
        double perStep = elapsed.toMillis() / 1000.0 / step;
        out.printf("\r%s[%s%s] %d/%d  %.2f s/step  ETA %.0f s   ", label, "#".repeat(filled),
                ".".repeat(WIDTH - filled), step, total, perStep, perStep * (total - step));
        if (step == total) {
            out.println();
        }
        out.flush();
        return true;
    }
}

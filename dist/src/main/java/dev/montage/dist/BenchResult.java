package dev.montage.dist;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One measured figure of {@code montage bench}: a stage at one dtype, size and subject count.
 *
 * @param stage    what was timed, e.g. {@code unet step (cfg)} or {@code load pipeline}
 * @param dtype    compute dtype
 * @param size     image side in pixels, or null where the stage does not depend on it
 * @param subjects number of subjects, or null where the stage does not depend on it
 * @param seconds  wall time of each measured run (warm-up runs excluded); empty when skipped
 * @param cpuSeconds CPU time the whole process spent in each measured run (all threads), or empty when unknown;
 *                 on a machine shared with other work it shows the stage's own cost better than wall time
 * @param peakRss  peak resident bytes of the process while the stage ran (loading included), or null when unknown
 * @param details  further figures (first run, per-step times, resident memory per step, ...)
 * @param note     why the stage was skipped or what qualifies the figure, or null
 */
record BenchResult(String stage, String dtype, Integer size, Integer subjects, List<Double> seconds,
        List<Double> cpuSeconds, Long peakRss, Map<String, Object> details, String note) {

    BenchResult {
        seconds = List.copyOf(seconds);
        cpuSeconds = List.copyOf(cpuSeconds);
        details = Collections.unmodifiableMap(new LinkedHashMap<>(details));
    }

    /** A stage that did not run, and why. */
    static BenchResult skipped(String stage, String dtype, Integer size, Integer subjects, String why) {
        return new BenchResult(stage, dtype, size, subjects, List.of(), List.of(), null, Map.of(), why);
    }

    /** Median of the runs, or NaN when there were none. */
    double median() {
        return median(seconds);
    }

    static double median(List<Double> values) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int mid = sorted.size() / 2;
        return sorted.size() % 2 == 1 ? sorted.get(mid) : (sorted.get(mid - 1) + sorted.get(mid)) / 2;
    }
}

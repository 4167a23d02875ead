package dev.montage.dist.server;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * What {@code GET /metrics} reports, in the Prometheus text format: queue and worker gauges, generations by
 * outcome, step and generation time histograms, and memory (JVM heap and the process's resident set, which
 * includes PyTorch's native tensors on the CPU).
 */
final class ServerMetrics {
    private static final Path PROC_STATUS = Path.of("/proc/self/status");

    private final Map<JobState, LongAdder> outcomes = new EnumMap<>(JobState.class);
    private final LongAdder submitted = new LongAdder();
    private final LongAdder rejected = new LongAdder();
    private final Histogram steps = new Histogram("montage_step_seconds", "Time of one denoising step.",
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30);
    private final Histogram generations = new Histogram("montage_generation_seconds",
            "Time from start to stored result of succeeded generations.",
            0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600);

    ServerMetrics() {
        for (JobState s : new JobState[] {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}) {
            outcomes.put(s, new LongAdder());
        }
    }

    void submitted() {
        submitted.increment();
    }

    void rejected() {
        rejected.increment();
    }

    void step(double seconds) {
        steps.observe(seconds);
    }

    /** Counts a job that ended; the generation time only of succeeded ones. */
    void ended(JobState outcome, double runSeconds) {
        outcomes.get(outcome).increment();
        if (outcome == JobState.SUCCEEDED) {
            generations.observe(runSeconds);
        }
    }

    /** Mean seconds of a succeeded generation, or 0 before the first. */
    double meanGenerationSeconds() {
        long n = generations.count();
        return n == 0 ? 0 : generations.sum() / n;
    }

    String render(int queued, int running, int workers, int queueCapacity, boolean ready) {
        StringBuilder out = new StringBuilder(4096);
        gauge(out, "montage_queue_depth", "Generations waiting for a worker.", queued);
        gauge(out, "montage_queue_capacity", "Generations that may wait before requests are refused.", queueCapacity);
        gauge(out, "montage_generations_running", "Generations running now.", running);
        gauge(out, "montage_workers", "Generations that may run at the same time.", workers);
        gauge(out, "montage_ready", "1 when the pipeline is loaded and warm.", ready ? 1 : 0);
        counterHeader(out, "montage_generations_submitted_total", "Generations accepted into the queue.");
        out.append("montage_generations_submitted_total ").append(submitted.sum()).append('\n');
        counterHeader(out, "montage_generations_rejected_total", "Generations refused because the queue was full.");
        out.append("montage_generations_rejected_total{reason=\"queue_full\"} ").append(rejected.sum()).append('\n');
        counterHeader(out, "montage_generations_total", "Generations that ended, by outcome.");
        outcomes.forEach((state, n) -> out.append("montage_generations_total{outcome=\"").append(state.apiName())
                .append("\"} ").append(n.sum()).append('\n'));
        steps.render(out);
        generations.render(out);
        memory(out);
        return out.toString();
    }

    private static void memory(StringBuilder out) {
        MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        MemoryUsage nonHeap = ManagementFactory.getMemoryMXBean().getNonHeapMemoryUsage();
        out.append("# HELP montage_jvm_memory_bytes JVM memory by area and measure.\n");
        out.append("# TYPE montage_jvm_memory_bytes gauge\n");
        memoryLine(out, "heap", "used", heap.getUsed());
        memoryLine(out, "heap", "committed", heap.getCommitted());
        memoryLine(out, "heap", "max", heap.getMax());
        memoryLine(out, "nonheap", "used", nonHeap.getUsed());
        memoryLine(out, "nonheap", "committed", nonHeap.getCommitted());
        long rss = residentBytes();
        if (rss >= 0) {
            gauge(out, "montage_process_resident_memory_bytes",
                    "Resident set of the process, native tensor memory included.", rss);
        }
    }

    private static void memoryLine(StringBuilder out, String area, String measure, long bytes) {
        out.append("montage_jvm_memory_bytes{area=\"").append(area).append("\",measure=\"").append(measure)
                .append("\"} ").append(bytes).append('\n');
    }

    /** VmRSS from /proc, or -1 where there is no /proc (not Linux). */
    private static long residentBytes() {
        try {
            for (String line : Files.readAllLines(PROC_STATUS)) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // no /proc: the gauge is left out
        }
        return -1;
    }

    private static void gauge(StringBuilder out, String name, String help, long value) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" gauge\n");
        out.append(name).append(' ').append(value).append('\n');
    }

    private static void counterHeader(StringBuilder out, String name, String help) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" counter\n");
    }
}

package dev.montage.dist.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToLongFunction;

/**
 * What {@code GET /metrics} reports, through Micrometer's Prometheus registry (one registry per server): queue and
 * worker gauges, generations by outcome, step and generation time histograms, and memory (JVM heap and the
 * process's resident set, which includes PyTorch's native tensors on the CPU).
 */
final class ServerMetrics {
    /** The Prometheus text exposition format the registry writes by default. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    private static final Path PROC_STATUS = Path.of("/proc/self/status");

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    /** The service's state, copied in under its lock when a scrape begins. */
    private final AtomicLong queued = new AtomicLong();
    private final AtomicLong running = new AtomicLong();
    private final AtomicLong workers = new AtomicLong();
    private final AtomicLong queueCapacity = new AtomicLong();
    private final AtomicLong ready = new AtomicLong();
    private final Map<JobState, Counter> outcomes = new EnumMap<>(JobState.class);
    private final Counter submitted = Counter.builder("montage.generations.submitted")
            .description("Generations accepted into the queue.").register(registry);
    private final Counter rejected = Counter.builder("montage.generations.rejected").tag("reason", "queue_full")
            .description("Generations refused because the queue was full.").register(registry);
    private final Timer steps = Timer.builder("montage.step").description("Time of one denoising step.")
            .serviceLevelObjectives(seconds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
            .register(registry);
    private final Timer generations = Timer.builder("montage.generation")
            .description("Time from start to stored result of succeeded generations.")
            .serviceLevelObjectives(seconds(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600))
            .register(registry);

    ServerMetrics() {
        gauge("montage.queue.depth", "Generations waiting for a worker.", queued);
        gauge("montage.queue.capacity", "Generations that may wait before requests are refused.", queueCapacity);
        gauge("montage.generations.running", "Generations running now.", running);
        gauge("montage.workers", "Generations that may run at the same time.", workers);
        gauge("montage.ready", "1 when the pipeline is loaded and warm.", ready);
        for (JobState s : new JobState[] {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}) {
            outcomes.put(s, Counter.builder("montage.generations").tag("outcome", s.apiName())
                    .description("Generations that ended, by outcome.").register(registry));
        }
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        memory("heap", "used", memory, m -> m.getHeapMemoryUsage().getUsed());
        memory("heap", "committed", memory, m -> m.getHeapMemoryUsage().getCommitted());
        memory("heap", "max", memory, m -> m.getHeapMemoryUsage().getMax());
        memory("nonheap", "used", memory, m -> m.getNonHeapMemoryUsage().getUsed());
        memory("nonheap", "committed", memory, m -> m.getNonHeapMemoryUsage().getCommitted());
        if (residentBytes() >= 0) {
            Gauge.builder("montage.process.resident.memory", ServerMetrics::residentBytes).baseUnit("bytes")
                    .description("Resident set of the process, native tensor memory included.").register(registry);
        }
    }

    void submitted() {
        submitted.increment();
    }

    void rejected() {
        rejected.increment();
    }

    void step(double seconds) {
        steps.record(Duration.ofNanos(Math.round(seconds * 1e9)));
    }

    /** Counts a job that ended; the generation time only of succeeded ones. */
    void ended(JobState outcome, double runSeconds) {
        outcomes.get(outcome).increment();
        if (outcome == JobState.SUCCEEDED) {
            generations.record(Duration.ofNanos(Math.round(runSeconds * 1e9)));
        }
    }

    /** Mean seconds of a succeeded generation, or 0 before the first. */
    double meanGenerationSeconds() {
        return generations.mean(TimeUnit.SECONDS);
    }

    /** The Prometheus text, {@link #CONTENT_TYPE}. */
    String render(int queued, int running, int workers, int queueCapacity, boolean ready) {
        this.queued.set(queued);
        this.running.set(running);
        this.workers.set(workers);
        this.queueCapacity.set(queueCapacity);
        this.ready.set(ready ? 1 : 0);
        return registry.scrape(CONTENT_TYPE);
    }

    private void gauge(String name, String help, AtomicLong value) {
        Gauge.builder(name, value, AtomicLong::get).description(help).register(registry);
    }

    private void memory(String area, String measure, MemoryMXBean bean, ToLongFunction<MemoryMXBean> bytes) {
        Gauge.builder("montage.jvm.memory", bean, b -> bytes.applyAsLong(b)).tag("area", area).tag("measure", measure)
                .baseUnit("bytes").description("JVM memory by area and measure.").register(registry);
    }

    private static Duration[] seconds(double... bounds) {
        Duration[] out = new Duration[bounds.length];
        for (int i = 0; i < bounds.length; i++) {
            out[i] = Duration.ofNanos(Math.round(bounds[i] * 1e9));
        }
        return out;
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
}

package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A soak run against hostile load: many generations with prompts at the length limit, some with 1 MB prompts (which
 * must be refused at once) and some cancelled right after they are sent, from concurrent clients. The heap after a
 * full collection is printed at the start, every 100 generations and at the end; the server must stay ready
 * throughout and its heap flat. Not part of the default build; run it with
 * {@code mvn -pl dist -am verify -DskipITs -Dmontage.excludedGroups= -Dtest=ServerSoakTest
 * -Dsurefire.failIfNoSpecifiedTests=false}, optionally with {@code -Dmontage.soak.requests=500
 * -Dmontage.soak.clients=16 -Dmontage.soak.workers=1 -Dmontage.soak.history=100}.
 */
@Tag("load")
class ServerSoakTest {
    private static final int REQUESTS = Integer.getInteger("montage.soak.requests", 500);
    private static final int CLIENTS = Integer.getInteger("montage.soak.clients", 16);
    private static final int WORKERS = Integer.getInteger("montage.soak.workers", 1);
    private static final int HISTORY = Integer.getInteger("montage.soak.history", 100);
    private static final int LONGEST_PROMPT = 16384;
    private static final int HUGE_PROMPT = 1 << 20;
    /** A 1 MB prompt is refused before any work; this bounds its answer time generously for a loaded machine. */
    private static final double REFUSAL_SECONDS = 5;

    @TempDir
    Path out;

    private static long heapAfterGcMb() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        memory.gc();
        memory.gc();
        return memory.getHeapMemoryUsage().getUsed() >> 20;
    }

    /** A prompt of {@code length} characters: words, so the tokenizer does real work on it. */
    private static String prompt(int n, int length) {
        StringBuilder b = new StringBuilder(length);
        while (b.length() < length) {
            b.append("a photo of dog number ").append(n).append(' ');
        }
        b.setLength(length);
        return b.toString();
    }

    @Test
    void theHeapStaysFlatAndTheServerReady() throws Exception {
        ServerSettings settings = TestServer.settings(out).concurrency(WORKERS).queueSize(CLIENTS * 2)
                .maxFinishedJobs(HISTORY).build();
        try (TestServer s = TestServer.start(settings)) {
            List<String> heap = new ArrayList<>();
            heap.add("start " + heapAfterGcMb() + " MB");
            Map<String, LongAdder> outcomes = new ConcurrentHashMap<>();
            AtomicInteger done = new AtomicInteger();
            LongAdder readinessChecks = new LongAdder();
            LongAdder notReady = new LongAdder();
            double[] slowestRefusal = {0};
            ExecutorService probe = Executors.newSingleThreadExecutor();
            probe.submit(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    readinessChecks.increment();
                    if (Http.get(s.server, "/readyz").statusCode() != 200) {
                        notReady.increment();
                    }
                    Thread.sleep(200);
                }
                return null;
            });
            double wall = ServerLoadTest.concurrently(REQUESTS, CLIENTS, n -> {
                String outcome = run(s, n, slowestRefusal);
                outcomes.computeIfAbsent(outcome, k -> new LongAdder()).increment();
                if (done.incrementAndGet() % 100 == 0) {
                    synchronized (heap) {
                        heap.add(done.get() + " jobs " + heapAfterGcMb() + " MB");
                    }
                }
            });
            probe.shutdownNow();
            heap.add("end " + heapAfterGcMb() + " MB");
            System.out.printf(Locale.ROOT, "soak run: %d requests, %d clients, %d workers, history %d, %d cores: "
                            + "wall %.1f s; outcomes %s; slowest 1 MB refusal %.3f s; readiness %d/%d checks ready; "
                            + "heap after GC: %s%n", REQUESTS, CLIENTS, WORKERS, HISTORY,
                    Runtime.getRuntime().availableProcessors(), wall, outcomes, slowestRefusal[0],
                    readinessChecks.sum() - notReady.sum(), readinessChecks.sum(), heap);
            assertEquals(0, notReady.sum(), "the server stayed ready");
            assertTrue(slowestRefusal[0] < REFUSAL_SECONDS, "1 MB prompts are refused at once");
            assertTrue(s.service.list(Optional.empty(), 1000).size() <= HISTORY, "ended generations beyond the history are dropped");
        }
    }

    /** One client's request: every tenth has a 1 MB prompt, every tenth is cancelled at once, the rest finish. */
    private static String run(TestServer s, int n, double[] slowestRefusal) throws Exception {
        Map<String, Object> body = ServerApiTest.request(prompt(n, n % 10 == 0 ? HUGE_PROMPT : LONGEST_PROMPT), 1, n);
        if (n % 10 == 0) {
            long t0 = System.nanoTime();
            HttpResponse<byte[]> refused = Http.postJson(s.server, Http.JSON.writeValueAsString(body));
            double seconds = (System.nanoTime() - t0) / 1e9;
            synchronized (slowestRefusal) {
                slowestRefusal[0] = Math.max(slowestRefusal[0], seconds);
            }
            assertEquals(400, refused.statusCode(), Http.text(refused));
            return "refused 400";
        }
        String id = (String) s.client.submit(body).get("id");
        if (n % 10 == 5) {
            try {
                s.client.cancel(id);
            } catch (MontageClient.ApiError e) {
                assertEquals(409, e.status(), "only an ended generation cannot be cancelled");
            }
        }
        return s.client.events(id, e -> { }).type();
    }
}

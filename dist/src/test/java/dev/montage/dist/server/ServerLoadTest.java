package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded load run: many one-step requests from concurrent clients, each followed to its image; no job may be
 * lost. Prints p50/p90/p99 latency and throughput. Not part of the default build (it takes minutes on a small
 * machine); run it with
 * {@code mvn -pl dist -am install -Dmontage.excludedGroups= -Dtest=ServerLoadTest -Dsurefire.failIfNoSpecifiedTests=false}
 * and optionally {@code -Dmontage.load.requests=200 -Dmontage.load.clients=16 -Dmontage.load.workers=4}.
 */
@Tag("load")
class ServerLoadTest {
    private static final int REQUESTS = Integer.getInteger("montage.load.requests", 200);
    private static final int CLIENTS = Integer.getInteger("montage.load.clients", 16);
    private static final int WORKERS = Integer.getInteger("montage.load.workers", 4);
    /** A guard against a hang, not a performance bound. */
    private static final long LIMIT_MINUTES = 30;

    @TempDir
    Path out;

    @Test
    void everyRequestEndsWithItsImage() throws Exception {
        ServerSettings settings = TestServer.settings(out).concurrency(WORKERS).queueSize(CLIENTS * 2).build();
        String picture = Pictures.base64(Pictures.oval(Color.RED, 32));
        try (TestServer s = TestServer.start(settings)) {
            Set<String> ids = ConcurrentHashMap.newKeySet();
            List<Double> latencies = Collections.synchronizedList(new ArrayList<>());
            double wall = concurrently(REQUESTS, CLIENTS, n -> {
                Map<String, Object> body = ServerApiTest.request("a dog number " + n, 1, n);
                if (n % 2 == 0) {
                    body.put("subjects", List.of(Map.of("image", picture, "phrase", "dog",
                            "box", List.of(0.2, 0.2, 0.8, 0.8))));
                }
                long t0 = System.nanoTime();
                String id = (String) s.client.submit(body).get("id");
                MontageClient.Event last = s.client.events(id, e -> { });
                latencies.add((System.nanoTime() - t0) / 1e9);
                assertEquals("finished", last.type(), () -> id + ": " + last.data());
                assertEquals(64, Pictures.decode(s.client.image(id, 0)).getWidth());
                assertTrue(ids.add(id), "ids are unique");
            });
            assertEquals(REQUESTS, ids.size());
            String metrics = Http.text(Http.get(s.server, "/metrics"));
            assertTrue(metrics.contains("montage_generations_total{outcome=\"succeeded\"} " + REQUESTS + ".0\n"));
            assertTrue(metrics.contains("montage_generations_total{outcome=\"failed\"} 0.0\n"));
            assertTrue(metrics.contains("montage_generations_rejected_total{reason=\"queue_full\"} 0.0\n"));
            assertTrue(metrics.contains("montage_queue_depth 0.0\n"));

            List<Double> sorted = new ArrayList<>(latencies);
            Collections.sort(sorted);
            System.out.printf(Locale.ROOT, "load run: %d requests (1 step, 64x64, half with a subject), %d clients, "
                            + "%d workers, %d cores: wall %.1f s, throughput %.2f req/s, latency p50 %.2f s, "
                            + "p90 %.2f s, p99 %.2f s, max %.2f s%n", REQUESTS, CLIENTS, WORKERS,
                    Runtime.getRuntime().availableProcessors(), wall, REQUESTS / wall, percentile(sorted, 50),
                    percentile(sorted, 90), percentile(sorted, 99), sorted.get(sorted.size() - 1));
        }
    }

    /** One client's request number {@code n}. */
    @FunctionalInterface
    interface Request {
        void send(int n) throws Exception;
    }

    /**
     * Sends requests 0 to {@code requests} - 1 from {@code clients} threads and waits for all of them.
     *
     * @return the wall seconds
     * @throws java.util.concurrent.ExecutionException with the first request that failed
     */
    static double concurrently(int requests, int clients, Request request) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<?>> results = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < requests; i++) {
            int n = i;
            results.add(pool.submit(() -> {
                request.send(n);
                return null;
            }));
        }
        pool.shutdown();
        assertTrue(pool.awaitTermination(LIMIT_MINUTES, TimeUnit.MINUTES), "the run did not end in time");
        double wall = (System.nanoTime() - start) / 1e9;
        for (Future<?> f : results) {
            f.get();
        }
        return wall;
    }

    /** Nearest-rank percentile of sorted values. */
    private static double percentile(List<Double> sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, rank - 1));
    }
}

package dev.montage.dist.server;

import static dev.montage.dist.server.ServerApiTest.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.ProgressListener;
import dev.montage.dist.TinyModel;
import dev.montage.runtime.pipeline.Lora;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.pipeline.MontagePipeline;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the server keeps of ended generations, and that its workers outlive the errors of one. */
class JobHistoryTest {
    private static final String FAIL = "[fail]";
    private static final String ERROR = "[error]";

    @TempDir
    Path out;

    /** The tiny pipeline, except that prompts with {@link #FAIL} fail and prompts with {@link #ERROR} throw an Error. */
    static GenerationResult failing(GenerationRequest request, List<Lora> loras, ProgressListener listener) {
        if (request.prompt().contains(FAIL)) {
            throw new IllegalArgumentException("refused on purpose");
        }
        if (request.prompt().contains(ERROR)) {
            throw new OutOfMemoryError("Java heap space (thrown by the test)");
        }
        return TestServer.plain(request, listener);
    }

    private static String run(TestServer s, String prompt, long seed) throws Exception {
        String id = (String) s.client.submit(request(prompt, 1, seed)).get("id");
        s.client.events(id, e -> { });
        return id;
    }

    @Test
    @SuppressWarnings("unchecked")
    void endedGenerationsBeyondTheHistoryLeaveMemoryAndAreAnsweredFromTheirResults() throws Exception {
        ServerSettings settings = TestServer.settings(out).maxFinishedJobs(2).build();
        try (TestServer s = TestServer.start(settings, JobHistoryTest::failing)) {
            String succeeded = run(s, "a dog", 1);
            String failed = run(s, "a cat " + FAIL, 2);
            List<String> newest = List.of(run(s, "a bird", 3), run(s, "a fish", 4));

            // the last job has told its clients it ended a moment before its worker retires it
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (s.service.list(Optional.empty(), 1000).size() > 2 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(2, s.service.list(Optional.empty(), 1000).size(), "only the newest ended generations stay in memory");
            List<Map<String, Object>> listed = (List<Map<String, Object>>) Http.json(
                    Http.get(s.server, "/v1/generations")).get("generations");
            assertEquals(List.of(newest.get(1), newest.get(0)), listed.stream().map(g -> g.get("id")).toList());

            Map<String, Object> stored = s.client.generation(succeeded);
            assertEquals("succeeded", stored.get("state"), "read back from its sidecar");
            assertEquals("a dog", ((Map<String, Object>) stored.get("parameters")).get("prompt"));
            assertEquals(64, Pictures.decode(s.client.image(succeeded, 0)).getWidth());

            HttpResponse<byte[]> forgotten = Http.get(s.server, "/v1/generations/" + failed);
            assertEquals(404, forgotten.statusCode());
            assertTrue(Http.text(forgotten).contains("newest 2"), Http.text(forgotten));
        }
    }

    @Test
    void aWorkerThatHitsAnErrorIsReplacedAndTheServerStaysReady() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build(), JobHistoryTest::failing)) {
            String broken = (String) s.client.submit(request("a dog " + ERROR, 1, 1)).get("id");
            MontageClient.Event failed = s.client.events(broken, e -> { });
            assertEquals("failed", failed.type());
            assertTrue(String.valueOf(failed.data().get("reason")).contains("OutOfMemoryError"), failed.data()::toString);

            String next = (String) s.client.submit(request("a cat", 1, 2)).get("id");
            MontageClient.Event finished = assertTimeoutPreemptively(Duration.ofSeconds(60),
                    () -> s.client.events(next, e -> { }), "a worker took the next generation");
            assertEquals("finished", finished.type());
            assertEquals(200, Http.get(s.server, "/readyz").statusCode());
        }
    }

    @Test
    void withNoWorkerLeftTheServerIsNotReadyAndRefusesGenerations() throws Exception {
        ServerSettings settings = TestServer.settings(out).build();
        MontagePipeline pipeline = TinyModel.pipeline();
        AtomicInteger started = new AtomicInteger();
        // the first worker starts; its replacement cannot, as when the process is out of native threads
        ThreadFactory threads = task -> {
            if (started.getAndIncrement() > 0) {
                throw new OutOfMemoryError("unable to create native thread (thrown by the test)");
            }
            return new Thread(task, "test-worker");
        };
        GenerationService service = new GenerationService(settings, JobHistoryTest::failing, pipeline, threads);
        try (MontageServer server = MontageServer.start(settings, service, TinyModel.registry(),
                new ServedModel(ModelPaths.of(TinyModel.folder()), true, "test engine"))) {
            service.start().join();
            MontageClient client = new MontageClient(URI.create(server.url()), Optional.empty());
            String broken = (String) client.submit(request("a dog " + ERROR, 1, 1)).get("id");
            assertEquals("failed", client.events(broken, e -> { }).type());
            ServerApiTest.await("the worker has ended", () -> !service.isReady());

            HttpResponse<byte[]> readiness = Http.get(server, "/readyz");
            assertEquals(503, readiness.statusCode());
            assertTrue(String.valueOf(Http.json(readiness).get("reason")).startsWith(
                    "no worker can take a job: a worker thread could not be started"), Http.text(readiness));
            HttpResponse<byte[]> refused = Http.postJson(server, Http.JSON.writeValueAsString(request("a cat", 1, 2)));
            assertEquals(503, refused.statusCode(), Http.text(refused));
        }
    }
}

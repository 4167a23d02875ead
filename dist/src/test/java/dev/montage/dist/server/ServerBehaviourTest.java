package dev.montage.dist.server;

import static dev.montage.dist.server.ServerApiTest.await;
import static dev.montage.dist.server.ServerApiTest.request;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.ProgressListener;
import dev.montage.dist.TinyModel;
import dev.montage.runtime.pipeline.ModelPaths;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Concurrency, authentication, introspection, readiness and shutdown of the server. */
class ServerBehaviourTest {
    @TempDir
    Path out;

    @Test
    @SuppressWarnings("unchecked")
    void concurrentGenerationsGiveExactlyThePixelsEachGivesAlone() throws Exception {
        // while the barrier is set, the first step of each generation waits for the other: both run at once
        AtomicReference<CyclicBarrier> together = new AtomicReference<>();
        GenerationService.Generator meeting = (request, loras, listener) -> TestServer.plain(request,
                new ProgressListener() {
                    @Override
                    public boolean onStep(int step, int total, Duration elapsed) {
                        CyclicBarrier barrier = together.get();
                        if (barrier != null && step == 1) {
                            try {
                                barrier.await(120, TimeUnit.SECONDS);
                            } catch (Exception e) {
                                throw new IllegalStateException("the other generation never came", e);
                            }
                        }
                        return listener.onStep(step, total, elapsed);
                    }

                    @Override
                    public void onStage(String stage) {
                        listener.onStage(stage);
                    }
                });
        try (TestServer s = TestServer.start(TestServer.settings(out).concurrency(2).build(), meeting)) {
            Map<String, Object> a = request("a dog on a hill", 3, 21);
            a.put("subjects", List.of(Map.of("image", Pictures.base64(Pictures.oval(Color.RED, 40)), "phrase", "dog",
                    "box", List.of(0.1, 0.2, 0.6, 0.9))));
            Map<String, Object> b = request("a cat and a ball", 3, 22);
            b.put("width", 96);
            b.put("subjects", List.of(
                    Map.of("image", Pictures.base64(Pictures.oval(Color.BLUE, 40)), "phrase", "cat",
                            "box", List.of(0.0, 0.1, 0.5, 0.8)),
                    Map.of("image", Pictures.base64(Pictures.oval(Color.GREEN, 40)), "phrase", "ball",
                            "box", List.of(0.5, 0.3, 0.9, 0.7), "scale", 1.2)));
            together.set(new CyclicBarrier(2));
            String concurrentA = (String) s.client.submit(a).get("id");
            String concurrentB = (String) s.client.submit(b).get("id");
            assertEquals("finished", s.client.events(concurrentA, e -> { }).type());
            assertEquals("finished", s.client.events(concurrentB, e -> { }).type());
            together.set(null);
            String aloneA = (String) s.client.submit(a).get("id");
            assertEquals("finished", s.client.events(aloneA, e -> { }).type());
            String aloneB = (String) s.client.submit(b).get("id");
            assertEquals("finished", s.client.events(aloneB, e -> { }).type());

            assertArrayEquals(Pictures.pixels(s.client.image(aloneA, 0)), Pictures.pixels(s.client.image(concurrentA, 0)));
            assertArrayEquals(Pictures.pixels(s.client.image(aloneB, 0)), Pictures.pixels(s.client.image(concurrentB, 0)));
            assertEquals(96, Pictures.decode(s.client.image(concurrentB, 0)).getWidth());
        }
    }

    @Test
    void bearerTokenIsRequiredCheckedAndNeverShown() throws Exception {
        String token = "tok-" + Ids.next();
        PrintStream stdout = System.out;
        PrintStream stderr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream capture = new PrintStream(captured, true, StandardCharsets.UTF_8);
        System.setOut(capture);
        System.setErr(capture);
        StringBuilder answers = new StringBuilder();
        try (TestServer s = TestServer.start(TestServer.settings(out).authToken(token).build())) {
            String url = s.server.url();
            HttpResponse<byte[]> none = Http.get(s.server, "/v1/queue");
            assertEquals(401, none.statusCode());
            assertEquals("Bearer realm=\"montage\"", none.headers().firstValue("WWW-Authenticate").orElseThrow());
            HttpResponse<byte[]> wrong = Http.send(HttpRequest.newBuilder(URI.create(url + "/v1/queue"))
                    .header("Authorization", "Bearer " + token + "x").GET().build());
            assertEquals(403, wrong.statusCode());
            HttpResponse<byte[]> basic = Http.send(HttpRequest.newBuilder(URI.create(url + "/v1/queue"))
                    .header("Authorization", "Basic " + token).GET().build());
            assertEquals(401, basic.statusCode());
            assertEquals(401, Http.get(s.server, "/metrics").statusCode());
            assertEquals(401, Http.postJson(s.server, "{\"prompt\": \"a dog\"}").statusCode());
            for (String open : new String[] {"/healthz", "/readyz", "/openapi.json"}) {
                assertEquals(200, Http.get(s.server, open).statusCode(), open);
            }
            String id = (String) s.client.submit(request("a dog", 1, 1)).get("id");
            assertEquals("finished", s.client.events(id, e -> { }).type());
            MontageClient.ApiError refused = assertThrows(
                    MontageClient.ApiError.class, () -> s.client(Optional.of("nope")).generation(id));
            assertEquals(403, refused.status());
            for (HttpResponse<byte[]> r : List.of(none, wrong, basic)) {
                answers.append(Http.text(r)).append(r.headers().map());
            }
            answers.append(s.settings);
        } finally {
            System.setOut(stdout);
            System.setErr(stderr);
        }
        String logged = captured.toString(StandardCharsets.UTF_8);
        assertFalse(logged.contains(token), "the token was logged:\n" + logged);
        assertFalse(answers.toString().contains(token), "the token was shown:\n" + answers);
    }

    @Test
    @SuppressWarnings("unchecked")
    void introspectionAndMetricsDescribeTheServer() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).concurrency(2).queueSize(5).build())) {
            String id = (String) s.client.submit(request("a dog", 2, 1)).get("id");
            assertEquals("finished", s.client.events(id, e -> { }).type());

            Map<String, Object> queue = Http.json(Http.get(s.server, "/v1/queue"));
            assertEquals(2, queue.get("workers"));
            assertEquals(5, queue.get("queueSize"));
            assertEquals(List.of(), queue.get("queued"));
            assertEquals(List.of(), queue.get("running"));

            List<Map<String, Object>> plugins = (List<Map<String, Object>>) Http.json(
                    Http.get(s.server, "/v1/plugins")).get("plugins");
            assertTrue(plugins.contains(Map.of("kind", "denoising_model", "id", "sdxl-unet", "source", "classpath",
                    "factory", TinyModel.registry().entries().stream().filter(e -> e.id().equals("sdxl-unet"))
                            .findFirst().orElseThrow().factory().getClass().getName(), "state", "active")), "" + plugins);
            assertEquals(TinyModel.registry().entries().size(), plugins.size());

            Map<String, Object> model = ((List<Map<String, Object>>) Http.json(
                    Http.get(s.server, "/v1/models")).get("models")).get(0);
            assertEquals(true, model.get("randomWeights"));
            assertEquals(List.of(), model.get("embeddings"), "no folder of embeddings");
            assertEquals("euler", model.get("defaultScheduler"));
            assertTrue(((List<String>) model.get("schedulers")).containsAll(List.of("ddim", "euler")));
            Map<String, String> descriptions = (Map<String, String>) model.get("schedulerDescriptions");
            assertEquals(model.get("schedulers"), List.copyOf(descriptions.keySet()));
            assertTrue(descriptions.get("lcm").startsWith("LCM (diffusers LCMScheduler)"), "" + descriptions);
            Map<String, List<String>> settings = (Map<String, List<String>>) model.get("schedulerOptions");
            assertEquals(model.get("schedulers"), List.copyOf(settings.keySet()));
            assertTrue(settings.get("ddim").stream().anyMatch(o -> o.startsWith("eta (number 0..1): DDIM's η")),
                    "" + settings.get("ddim"));
            assertTrue(settings.get("euler").stream().noneMatch(o -> o.startsWith("eta ")), "" + settings);
            List<Map<String, Object>> weights = (List<Map<String, Object>>) model.get("weights");
            assertEquals(List.of("base", "controlnet", "image_encoder", "ms_adapter", "resampler_config", "scheduler",
                    "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet", "vae"),
                    weights.stream().map(w -> w.get("key")).toList(), "the files the components read");
            assertTrue(weights.stream().allMatch(w -> w.get("status").equals("loaded")), "" + weights);

            assertEquals(Map.of("status", "ok"), Http.json(Http.get(s.server, "/healthz")));
            assertEquals(Map.of("ready", true), Http.json(Http.get(s.server, "/readyz")));

            HttpResponse<byte[]> metrics = Http.get(s.server, "/metrics");
            assertTrue(metrics.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain"));
            String text = Http.text(metrics);
            // the Prometheus client writes gauge and counter values as floating point numbers
            for (String line : new String[] {"montage_queue_depth 0.0", "montage_generations_running 0.0",
                "montage_workers 2.0", "montage_ready 1.0", "montage_generations_submitted_total 1.0",
                "montage_generations_total{outcome=\"succeeded\"} 1.0",
                "montage_generations_total{outcome=\"failed\"} 0.0",
                "montage_generations_total{outcome=\"cancelled\"} 0.0", "montage_step_seconds_count 2",
                "montage_step_seconds_bucket{le=\"+Inf\"} 2", "montage_generation_seconds_count 1",
                "# TYPE montage_step_seconds histogram"}) {
                assertTrue(text.contains(line + "\n"), line + " in\n" + text);
            }
            assertTrue(text.contains("montage_jvm_memory_bytes{area=\"heap\",measure=\"used\"} "), text);
            assertTrue(text.contains("montage_process_resident_memory_bytes "), text);
            assertEquals(404, Http.get(s.server, "/v1/nothing-here").statusCode());
            assertEquals(404, Http.get(s.server, "/v1/generations/" + Ids.next()).statusCode());
        }
    }

    @Test
    void readyOnlyWhenWarmAndRequestsWaitMeanwhile() throws Exception {
        ServerSettings settings = TestServer.settings(out).build();
        GenerationService service = TestServer.plainService(settings);
        try (MontageServer server = MontageServer.start(settings, service, TinyModel.registry(),
                new ServedModel(ModelPaths.of(TinyModel.folder()), true, "test engine"))) {
            HttpResponse<byte[]> cold = Http.get(server, "/readyz");
            assertEquals(503, cold.statusCode());
            assertEquals(Map.of("ready", false, "reason", "warming up"), Http.json(cold));
            MontageClient client = new MontageClient(URI.create(server.url()), Optional.empty());
            String id = (String) client.submit(request("a dog", 1, 1)).get("id");
            assertEquals("queued", ServerApiTest.state(client, id));
            service.start().join();
            assertEquals(200, Http.get(server, "/readyz").statusCode());
            assertEquals("finished", client.events(id, e -> { }).type());
        }
    }

    @Test
    void shutdownCancelsTheQueueAndLetsRunningGenerationsFinish() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            String running = (String) s.client.submit(request("a dog " + TestServer.HOLD, 2, 1)).get("id");
            await("the held generation runs", () -> ServerApiTest.state(s.client, running).equals("running"));
            String queued = (String) s.client.submit(request("a cat", 1, 2)).get("id");
            Thread closing = new Thread(s.server::close);
            closing.start();
            await("the queued generation is cancelled",
                    () -> s.service.job(queued).orElseThrow().state() == JobState.CANCELLED);
            assertEquals(503, Http.get(s.server, "/readyz").statusCode());
            HttpResponse<byte[]> refused = Http.postJson(s.server, Http.JSON.writeValueAsString(request("a", 1, 3)));
            assertEquals(503, refused.statusCode());
            assertTrue(closing.isAlive(), "shutdown waits for the running generation");
            s.release();
            closing.join();
            assertEquals(JobState.SUCCEEDED, s.service.job(running).orElseThrow().state());
            assertEquals("the server is shutting down",
                    s.service.job(queued).orElseThrow().view(0).get("reason"));
        }
    }

    @Test
    void afterTheGracePeriodRunningGenerationsAreCancelled() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).shutdownGrace(Duration.ZERO).build())) {
            String running = (String) s.client.submit(request("a dog " + TestServer.HOLD, 3, 1)).get("id");
            await("the held generation runs", () -> ServerApiTest.state(s.client, running).equals("running"));
            Job job = s.service.job(running).orElseThrow();
            Thread closing = new Thread(s.server::close);
            closing.start();
            await("the running generation is asked to stop", () -> job.cancelReason() != null);
            s.release();
            closing.join();
            assertEquals(JobState.CANCELLED, job.state());
            assertEquals("the server is shutting down and the grace period of 0 s is over", job.view(0).get("reason"));
        }
    }
}

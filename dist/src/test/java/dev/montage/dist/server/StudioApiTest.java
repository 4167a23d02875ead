package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.anyList;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.spy;

import dev.montage.api.Control;
import dev.montage.api.GenerationRequest;
import dev.montage.api.ProgressListener;
import dev.montage.api.spi.TextEncoder.TokenSpan;
import dev.montage.dist.ControlImageRecorder;
import dev.montage.dist.TinyModel;
import dev.montage.dist.record.ComfyWorkflows;
import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the studio page asks of the server: its files, the phrases of a prompt, control pictures, previews and
 * progress in the event stream, queue places and the gallery of results.
 */
class StudioApiTest {
    private static final String PROMPT = "a dog and a cat on a sofa";

    @TempDir
    Path out;

    private static HttpResponse<byte[]> post(TestServer s, String path, String json, Optional<String> token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.server.url() + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json));
        token.ifPresent(t -> b.header("Authorization", "Bearer " + t));
        return Http.send(b.build());
    }

    private static HttpResponse<byte[]> post(TestServer s, String path, String json) {
        return post(s, path, json, Optional.empty());
    }

    private static String firstMessage(HttpResponse<byte[]> response) {
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> errors = (List<Map<String, Object>>) Http.json(response).get("errors");
        return (String) errors.get(0).get("message");
    }

    @Test
    void theStudioIsServedWithoutTheTokenAndWithItsSecurityHeaders() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).authToken("secret").build())) {
            HttpResponse<byte[]> index = Http.get(s.server, "/");
            assertEquals(200, index.statusCode());
            assertTrue(index.headers().firstValue("Content-Type").orElseThrow().startsWith("text/html"));
            assertEquals("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
                    + "connect-src 'self'", index.headers().firstValue("Content-Security-Policy").orElseThrow());
            assertEquals("nosniff", index.headers().firstValue("X-Content-Type-Options").orElseThrow());

            HttpResponse<byte[]> script = Http.get(s.server, "/studio/studio.js");
            assertEquals(200, script.statusCode());
            assertTrue(script.headers().firstValue("Content-Type").orElseThrow().startsWith("text/javascript"));
            assertEquals("nosniff", script.headers().firstValue("X-Content-Type-Options").orElseThrow());

            for (String missing : List.of("/studio/none.js", "/studio/.hidden.js", "/studio/index", "/studio/..%2F"
                    + "server%2Fopenapi.json", "/studio/studio.exe")) {
                assertEquals(404, Http.get(s.server, missing).statusCode(), missing);
            }
            assertEquals(401, post(s, "/v1/phrases", "{\"prompt\": \"a dog\"}").statusCode(),
                    "the API stays protected");
            assertEquals(200, post(s, "/v1/phrases", "{\"prompt\": \"a dog\"}", Optional.of("secret")).statusCode());
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void phrasesAreLocatedAsAutoLayoutLocatesThemWithTheWordsThatCouldBeSubjects() throws Exception {
        List<TokenSpan> expected = TinyModel.pipeline().locatePhrases(PROMPT, List.of("dog", "cat", "bird"));
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            HttpResponse<byte[]> response = post(s, "/v1/phrases",
                    "{\"prompt\": \"" + PROMPT + "\", \"phrases\": [\"dog\", \"cat\", \"bird\"]}");
            assertEquals(200, response.statusCode(), Http.text(response));
            Map<String, Object> answer = Http.json(response);
            List<Map<String, Object>> phrases = (List<Map<String, Object>>) answer.get("phrases");
            List<String> names = List.of("dog", "cat", "bird");
            for (int i = 0; i < 3; i++) {
                Map<String, Object> p = phrases.get(i);
                assertEquals(names.get(i), p.get("phrase"));
                assertEquals(expected.get(i).start(), p.get("start"), names.get(i));
                assertEquals(expected.get(i).end(), p.get("end"), names.get(i));
                assertEquals(i < 2, p.get("locatable"), names.get(i));
            }
            assertEquals(Map.of("phrase", "bird", "locatable", false, "start", 0, "end", 0), phrases.get(2));
            assertEquals(List.of("dog", "cat", "sofa"), answer.get("suggestions"));

            // a phrase that is also a word of the prompt keeps its span, and a repeated one takes its next occurrence
            Map<String, Object> repeated = Http.json(post(s, "/v1/phrases",
                    "{\"prompt\": \"A dog, a cat and a dog\", \"phrases\": [\"dog\", \"dog\"]}"));
            List<Map<String, Object>> spans = (List<Map<String, Object>>) repeated.get("phrases");
            assertTrue((Boolean) spans.get(1).get("locatable"));
            assertTrue((Integer) spans.get(1).get("start") > (Integer) spans.get(0).get("start"));
            assertEquals(List.of("dog", "cat"), repeated.get("suggestions"));
        }
    }

    /**
     * An A1111 or ComfyUI PNG's text chunks are read into a request completed with the server's defaults, what it does
     * not run said in notes: a sampler no scheduler is gives way to the default one, settings and nodes not applied, a
     * prompt the workflow does not give; chunks without such a record are refused naming them.
     */
    @Test
    @SuppressWarnings("unchecked")
    void anotherToolsPngRecordIsReadIntoARequest() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            HttpResponse<byte[]> a1111 = post(s, "/v1/records", Http.JSON.writeValueAsString(Map.of("chunks", Map.of(
                    "parameters", "a castle\nNegative prompt: fog\nSteps: 3, Sampler: DPM++ 2M, Schedule type: "
                            + "Karras, CFG scale: 4, Seed: 7, Size: 64x48, Clip skip: 2"))));
            assertEquals(200, a1111.statusCode(), Http.text(a1111));
            Map<String, Object> answer = Http.json(a1111);
            assertEquals("AUTOMATIC1111", answer.get("maker"));
            Map<String, Object> request = (Map<String, Object>) answer.get("request");
            assertEquals(List.of("a castle", "fog", 3, 4.0, 7, 64, 48, "dpmpp-2m-karras", 1), List.of(request.get(
                    "prompt"), request.get("negativePrompt"), request.get("steps"), request.get("guidance"),
                    request.get("seed"), request.get("width"), request.get("height"), request.get("scheduler"),
                    request.get("count")), "completed with the server's count");
            assertEquals(List.of("not applied: Clip skip: 2"), answer.get("notes"));

            String workflow = ComfyWorkflows.withPerturbedAttention(ComfyWorkflows.of("res_multistep", "normal",
                    "{\"class_type\": \"EmptyLatentImage\", \"inputs\": {\"width\": 32, \"height\": 32}}",
                    "{\"class_type\": \"ConditioningCombine\", \"inputs\": {}}"), 2);
            Map<String, Object> comfy = Http.json(post(s, "/v1/records", Http.JSON.writeValueAsString(Map.of(
                    "chunks", Map.of("prompt", workflow, "workflow", "{}")))));
            assertEquals("ComfyUI", comfy.get("maker"));
            Map<String, Object> fromComfy = (Map<String, Object>) comfy.get("request");
            assertEquals("", fromComfy.get("prompt"));
            assertEquals(((List<Map<String, Object>>) Http.json(Http.get(s.server, "/v1/models")).get("models"))
                    .get(0).get("defaultScheduler"), fromComfy.get("scheduler"));
            assertEquals(2.0, ((Map<String, Object>) fromComfy.get("perturbedAttention")).get("scale"));
            assertEquals(List.of("its sampler res_multistep (scheduler normal) is none of Montage's schedulers: the "
                    + "server's default scheduler runs instead", "its ComfyUI sampler's positive prompt comes from a "
                    + "ConditioningCombine node, which is not read here: give the prompt", "LoRAs this server does not "
                    + "have, left out: ink at 0.8", "not applied: ConditioningCombine (node 6)"), comfy.get("notes"));

            HttpResponse<byte[]> none = post(s, "/v1/records", "{\"chunks\": {\"Software\": \"GIMP\"}}");
            assertEquals(400, none.statusCode());
            assertTrue(firstMessage(none).contains("hold no AUTOMATIC1111 'parameters' or ComfyUI 'prompt' text"),
                    Http.text(none));
            assertEquals(400, post(s, "/v1/records", "{\"chunks\": {\"parameters\": 3}}").statusCode());
            assertEquals(400, post(s, "/v1/records", "{\"chunk\": {}}").statusCode());
            HttpResponse<byte[]> big = post(s, "/v1/records", Http.JSON.writeValueAsString(Map.of("chunks", Map.of(
                    "parameters", "a castle\nSteps: 3, Seed: 1, Size: 100000x64"))));
            assertEquals(400, big.statusCode(), "the server's own limits");
        }
    }

    /**
     * The PNG file itself may be sent (base64, a data URL too) instead of its chunks: an A1111 one reads as its chunks
     * do, a Montage one answers its record as it is, with a note on the pictures it names by file; exactly one of
     * the two forms, and a file that is a PNG, are required.
     */
    @Test
    @SuppressWarnings("unchecked")
    void thePngItselfMayBeSent() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            Map<String, Object> a1111 = Http.json(post(s, "/v1/records", Http.JSON.writeValueAsString(Map.of("png",
                    "data:image/png;base64," + png(Map.of("parameters", "a castle\nSteps: 3, Sampler: Euler, "
                            + "Seed: 7, Size: 64x48"))))));
            assertEquals("AUTOMATIC1111", a1111.get("maker"));
            assertEquals("a castle", ((Map<String, Object>) a1111.get("request")).get("prompt"));
            String record = Http.JSON.writeValueAsString(Map.of("prompt", "a dog", "steps", 3, "subjects", List.of(
                    Map.of("file", "/pictures/dog.png", "sha256", "00"), Map.of("uploadId", "u1")), "montage",
                    Map.of("version", "test")));
            Map<String, Object> montage = Http.json(post(s, "/v1/records", Http.JSON.writeValueAsString(Map.of("png",
                    png(Map.of("montage", record))))));
            assertEquals("Montage", montage.get("maker"));
            Map<String, Object> request = (Map<String, Object>) montage.get("request");
            assertEquals(List.of("a dog", 3), List.of(request.get("prompt"), request.get("steps")));
            assertFalse(request.containsKey("montage"));
            assertEquals(List.of("it names 1 picture(s) by file and SHA-256, not by an upload of this server: give "
                    + "them again"), montage.get("notes"));
            assertEquals(400, post(s, "/v1/records", "{\"png\": \"not base64!\"}").statusCode());
            assertEquals(400, post(s, "/v1/records", "{\"png\": \"" + Base64.getEncoder().encodeToString(
                    "GIF89a".getBytes(StandardCharsets.US_ASCII)) + "\"}").statusCode());
            HttpResponse<byte[]> both = post(s, "/v1/records", "{\"png\": \"\", \"chunks\": {}}");
            assertEquals(400, both.statusCode());
            assertTrue(firstMessage(both).startsWith("must give one of chunks"), Http.text(both));
        }
    }

    /** A small PNG with these text chunks, in base64. */
    private static String png(Map<String, String> chunks) throws IOException {
        Path file = Files.createTempFile("record", ".png");
        try {
            PngFiles.write(file, new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), chunks);
            return Base64.getEncoder().encodeToString(Files.readAllBytes(file));
        } finally {
            Files.delete(file);
        }
    }

    /**
     * Phrase lookups and control previews share {@code server.max_preview_requests}: one more waits for a place, and
     * is 503 with Retry-After when none frees within the wait, before its body is read. The pipeline is a spy whose
     * phrase lookup holds until the test lets it go.
     */
    @Test
    void previewsBeyondTheirLimitWaitForAPlaceThenAre503() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        MontagePipeline pipeline = spy(TinyModel.pipeline());
        doAnswer(call -> {
            entered.countDown();
            assertTrue(release.await(60, TimeUnit.SECONDS), "the test lets the lookup go");
            return call.callRealMethod();
        }).when(pipeline).locatePhrases(anyString(), anyList());
        ExecutorService clients = Executors.newCachedThreadPool();
        try (TestServer s = TestServer.start(TestServer.settings(out).maxPreviewRequests(1).build(), pipeline,
                TinyModel.registry(), TinyModel.folder())) {
            String body = "{\"prompt\": \"" + PROMPT + "\", \"phrases\": [\"dog\"]}";
            Future<HttpResponse<byte[]>> held = clients.submit(() -> post(s, "/v1/phrases", body));
            assertTrue(entered.await(60, TimeUnit.SECONDS));

            long start = System.nanoTime();
            HttpResponse<byte[]> refused = post(s, "/v1/preprocess", "{}");
            assertEquals(503, refused.statusCode(), Http.text(refused));
            assertTrue(System.nanoTime() - start >= MontageServer.PREVIEW_WAIT.toNanos(), "it waited for a place");
            assertEquals("1", refused.headers().firstValue("Retry-After").orElseThrow());
            assertEquals("every place for phrase lookups and control previews is taken "
                    + "(server.max_preview_requests: 1); try again shortly", firstMessage(refused));

            Future<HttpResponse<byte[]>> waiting = clients.submit(() -> post(s, "/v1/phrases", body));
            Thread.sleep(500);
            assertFalse(waiting.isDone(), "the second lookup waits while the first holds the place");
            release.countDown();
            assertEquals(200, held.get(60, TimeUnit.SECONDS).statusCode());
            assertEquals(200, waiting.get(60, TimeUnit.SECONDS).statusCode(), "it got the place once freed");
        } finally {
            release.countDown();
            clients.shutdownNow();
        }
    }

    @Test
    void phraseBodiesOutOfBoundsAreRefusedByField() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).maxSubjects(2).build())) {
            assertEquals(Set.of("phrases[1]", "prompt", "colour"), Http.errorFields(post(s, "/v1/phrases",
                    "{\"prompt\": \"" + "a".repeat(GenerationRequest.MAX_TEXT_LENGTH + 1) + "\", \"phrases\": "
                            + "[\"dog\", \"" + "b".repeat(GenerationRequest.MAX_PHRASE_LENGTH + 1) + "\"], "
                            + "\"colour\": 1}")));
            assertEquals(Set.of("phrases"), Http.errorFields(post(s, "/v1/phrases",
                    "{\"prompt\": \"a\", \"phrases\": [\"a\", \"b\", \"c\"]}")));
            assertEquals(Set.of("prompt", "phrases[0]"), Http.errorFields(post(s, "/v1/phrases",
                    "{\"phrases\": [3]}")));
        }
    }

    @Test
    void aPreprocessedPictureIsWhatTheControlNetReceivesInAGeneration() throws Exception {
        byte[] picture = Pictures.oval(Color.WHITE, 48);
        try (MontagePipeline controlled = TestEngine.pipeline(TinyModel.registry(), TinyModel.folder())
                .controlTypes(List.of("canny", "pose")).build();
                TestServer s = TestServer.start(TestServer.settings(out).build(), controlled, TinyModel.registry(),
                        TinyModel.folder())) {
            HttpResponse<byte[]> response = post(s, "/v1/preprocess", "{\"type\": \"canny\", \"image\": "
                    + "\"data:image/png;base64," + Pictures.base64(picture) + "\", \"width\": 64, \"height\": 48, "
                    + "\"options\": {\"low\": \"50\"}}");
            assertEquals(200, response.statusCode(), Http.text(response));
            assertEquals("image/png", response.headers().firstValue("Content-Type").orElseThrow());
            BufferedImage served = Pictures.decode(response.body());
            assertEquals(64, served.getWidth());
            assertEquals(48, served.getHeight());

            ControlImageRecorder received = new ControlImageRecorder();
            controlled.generate(GenerationRequest.builder("a ring").size(64, 48).steps(1)
                    .control(Control.fromRequestOptions("canny", Pictures.decode(picture), null, 1, 0, 1,
                            Map.of("low", "50"))).build(), received);
            assertArrayEquals(rgb(received.images().get(0)), rgb(served));

            String keypoints = "{\"people\": [{\"pose_keypoints_2d\": [" + String.join(", ",
                    Collections.nCopies(54, "12.5")) + "]}], \"canvas_width\": 64, \"canvas_height\": 64}";
            HttpResponse<byte[]> pose = post(s, "/v1/preprocess", "{\"type\": \"pose\", \"keypoints\": " + keypoints
                    + ", \"width\": 32, \"height\": 32}");
            assertEquals(200, pose.statusCode(), Http.text(pose));
            assertEquals(32, Pictures.decode(pose.body()).getWidth());

            HttpResponse<byte[]> misspelt = post(s, "/v1/preprocess", "{\"type\": \"cany\", \"image\": \""
                    + Pictures.base64(picture) + "\", \"width\": 64, \"height\": 64}");
            assertEquals(Set.of("type"), Http.errorFields(misspelt));
            assertTrue(firstMessage(misspelt).contains("canny"), firstMessage(misspelt));
            assertEquals(Set.of("width", "height"), Http.errorFields(post(s, "/v1/preprocess",
                    "{\"type\": \"canny\", \"image\": \"" + Pictures.base64(picture) + "\", \"width\": 60, "
                            + "\"height\": 512}")));
            assertEquals(Set.of("image"), Http.errorFields(post(s, "/v1/preprocess",
                    "{\"type\": \"canny\", \"image\": \"" + Base64.getEncoder().encodeToString(
                            "not a picture".getBytes(StandardCharsets.UTF_8)) + "\", \"width\": 64, \"height\": 64}")));
            assertEquals(Set.of("options.colour"), Http.errorFields(post(s, "/v1/preprocess",
                    "{\"type\": \"canny\", \"image\": \"" + Pictures.base64(picture) + "\", \"options\": "
                            + "{\"colour\": \"red\"}, \"width\": 64, \"height\": 64}")));
        }
    }

    @Test
    void picturesOverTheLimitAreRefusedAsForGenerations() throws Exception {
        try (MontagePipeline controlled = TestEngine.pipeline(TinyModel.registry(), TinyModel.folder())
                .controlTypes(List.of("canny")).build();
                TestServer s = TestServer.start(TestServer.settings(out).maxImageBytes(100).build(), controlled,
                        TinyModel.registry(), TinyModel.folder())) {
            HttpResponse<byte[]> response = post(s, "/v1/preprocess", "{\"type\": \"canny\", \"image\": \""
                    + Pictures.base64(Pictures.noise(64)) + "\", \"width\": 64, \"height\": 64}");
            assertEquals(413, response.statusCode());
            assertEquals(Set.of("image"), Http.errorFields(response));
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void previewsComeEveryPreviewEveryStepsButNotAfterTheLast() throws Exception {
        List<Integer> made = Collections.synchronizedList(new ArrayList<>());
        GenerationService.Generator recording = (request, loras, listener) -> TinyModel.pipeline().generate(request,
                new ProgressListener() {
                    @Override
                    public boolean onStep(int step, int total, Duration elapsed) {
                        return listener.onStep(step, total, elapsed);
                    }

                    @Override
                    public int previewEvery() {
                        return listener.previewEvery();
                    }

                    @Override
                    public void onPreview(int step, int total, BufferedImage preview) {
                        made.add(step);
                        listener.onPreview(step, total, preview);
                    }
                });
        try (TestServer s = TestServer.start(TestServer.settings(out).previewEvery(2).build(), recording)) {
            String id = (String) s.client.submit(ServerApiTest.request("a dog", 6, 2)).get("id");
            List<MontageClient.Event> events = new ArrayList<>();
            MontageClient.Event last = s.client.events(id, events::add);
            assertEquals("finished", last.type(), String.valueOf(last.data()));
            assertEquals(List.of(2, 4), made);

            // a slow client may miss a preview that a newer one replaced, never the newest
            List<Map<String, Object>> previews = events.stream().filter(e -> e.type().equals("preview"))
                    .map(MontageClient.Event::data).toList();
            List<Object> steps = previews.stream().map(p -> p.get("step")).toList();
            assertTrue(steps.equals(List.of(2, 4)) || steps.equals(List.of(4)), steps.toString());
            for (Map<String, Object> p : previews) {
                assertEquals(6, p.get("total"));
                String image = (String) p.get("image");
                assertTrue(image.startsWith("data:image/png;base64,"));
                BufferedImage preview = Pictures.decode(Base64.getDecoder().decode(image.substring(
                        "data:image/png;base64,".length())));
                assertEquals(8, preview.getWidth(), "the latent width of 64 pixels");
                assertEquals(8, preview.getHeight());
            }
            List<Map<String, Object>> progress = events.stream().filter(e -> e.type().equals("progress"))
                    .map(MontageClient.Event::data).toList();
            for (Map<String, Object> p : progress) {
                assertEquals(6, p.get("total"));
                assertTrue(((Number) p.get("elapsedSeconds")).doubleValue() >= 0, String.valueOf(p));
                assertTrue(((Number) p.get("etaSeconds")).doubleValue() >= 0, String.valueOf(p));
            }
            Map<String, Object> lastProgress = progress.get(progress.size() - 1);
            assertEquals(6, lastProgress.get("step"));
            assertEquals(0.0, ((Number) lastProgress.get("etaSeconds")).doubleValue());
        }
    }

    @Test
    void previewEveryZeroSendsNone() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).previewEvery(0).build())) {
            String id = (String) s.client.submit(ServerApiTest.request("a dog", 3, 2)).get("id");
            List<String> types = new ArrayList<>();
            s.client.events(id, e -> types.add(e.type()));
            assertFalse(types.contains("preview"), types.toString());
        }
    }

    @Test
    void queuedGenerationsAreToldTheirPlaceAsTheQueueMoves() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            String running = (String) s.client.submit(ServerApiTest.request("a dog " + TestServer.HOLD, 2, 1))
                    .get("id");
            ServerApiTest.await("the first generation runs", () -> "running".equals(ServerApiTest.state(s.client,
                    running)));
            String second = (String) s.client.submit(ServerApiTest.request("a cat", 1, 2)).get("id");
            String third = (String) s.client.submit(ServerApiTest.request("a bird", 1, 3)).get("id");
            assertEquals(0, ServerApiTest.generation(s.client, running).get("position"));
            assertEquals(1, ServerApiTest.generation(s.client, second).get("position"));
            assertEquals(2, ServerApiTest.generation(s.client, third).get("position"));

            s.client.cancel(second);
            assertEquals(1, ServerApiTest.generation(s.client, third).get("position"));
            List<Map<String, Object>> queued = new ArrayList<>();
            s.client.events(third, e -> {
                if (e.type().equals("queued")) {
                    queued.add(e.data());
                }
                s.release();
            });
            assertEquals(1, queued.get(0).get("position"), "only the latest place is replayed");
            assertEquals(1, queued.size());
            assertEquals(0, ServerApiTest.generation(s.client, third).get("position"));
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void theGalleryListsSucceededGenerationsWithTheirRequestsAlsoAfterARestart() throws Exception {
        String older;
        String newer;
        ServerSettings settings = TestServer.settings(out).build();
        try (TestServer s = TestServer.start(settings)) {
            older = (String) s.client.submit(ServerApiTest.request("a dog " + TestServer.HOLD, 1, 1)).get("id");
            String cancelled = (String) s.client.submit(ServerApiTest.request("a cat", 1, 2)).get("id");
            s.client.cancel(cancelled);
            s.release();
            s.client.events(older, e -> { });
            newer = (String) s.client.submit(ServerApiTest.request("a bird", 1, 3)).get("id");
            s.client.events(newer, e -> { });

            assertEquals(List.of(newer, older), gallery(s, "").stream().map(g -> g.get("id")).toList());
            List<Map<String, Object>> newest = gallery(s, "&limit=1");
            assertEquals(List.of(newer), newest.stream().map(g -> g.get("id")).toList());
            Map<String, Object> g = newest.get(0);
            assertEquals("succeeded", g.get("state"));
            assertEquals(List.of("/v1/generations/" + newer + "/images/0.png"), g.get("images"));
            assertTrue(g.get("createdAt") instanceof String && g.get("finishedAt") instanceof String);
            assertEquals("a bird", ((Map<String, Object>) g.get("parameters")).get("prompt"));

            HttpResponse<byte[]> misspelt = Http.get(s.server, "/v1/generations?state=succeded");
            assertEquals(Set.of("state"), Http.errorFields(misspelt));
            assertTrue(firstMessage(misspelt).contains("succeeded"), firstMessage(misspelt));
            assertEquals(Set.of("limit"), Http.errorFields(Http.get(s.server,
                    "/v1/generations?state=succeeded&limit=0")));
        }
        try (TestServer s = TestServer.start(settings)) {
            List<Map<String, Object>> restored = gallery(s, "");
            assertEquals(List.of(newer, older), restored.stream().map(g -> g.get("id")).toList());
            Map<String, Object> sidecar = Http.JSON.readValue(Files.readString(out.resolve(newer + ".json")),
                    Map.class);
            sidecar.remove("montage");
            assertEquals(sidecar, restored.get(0).get("parameters"), "the request as the sidecar records it");
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> gallery(TestServer s, String more) {
        HttpResponse<byte[]> response = Http.get(s.server, "/v1/generations?state=succeeded" + more);
        assertEquals(200, response.statusCode(), Http.text(response));
        return (List<Map<String, Object>>) Http.json(response).get("generations");
    }

    private static int[] rgb(BufferedImage image) {
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }
}

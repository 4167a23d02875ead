package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.runtime.output.PngFiles;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generation API end to end on loopback, over the tiny random model. */
class ServerApiTest {
    @TempDir
    Path out;

    static Map<String, Object> request(String prompt, int steps, long seed) {
        return new LinkedHashMap<>(Map.of("prompt", prompt, "width", 64, "height", 64, "steps", steps,
                "seed", seed));
    }

    /** Waits (polling) for a condition a test needs before its next call; fails after a generous limit. */
    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("gave up waiting until " + what);
            }
            Thread.sleep(5);
        }
    }

    static String state(MontageClient client, String id) {
        return (String) generation(client, id).get("state");
    }

    static Map<String, Object> generation(MontageClient client, String id) {
        try {
            return client.generation(id);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private List<String> files(String id) throws IOException {
        try (Stream<Path> files = Files.list(out)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.contains(id)).sorted().toList();
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void submitFollowEventsAndFetchTheImage() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            String uploadId = s.client.upload(Pictures.oval(Color.RED, 48), "dog.png");
            Map<String, Object> body = request("a dog and a ball", 3, 5);
            body.put("subjects", List.of(
                    Map.of("uploadId", uploadId, "phrase", "dog", "box", List.of(0.1, 0.1, 0.5, 0.9)),
                    Map.of("image", "data:image/png;base64," + Pictures.base64(Pictures.oval(Color.BLUE, 40)),
                            "phrase", "ball", "box", List.of(0.5, 0.2, 0.9, 0.8), "scale", 0.8)));
            Map<String, Object> submitted = s.client.submit(body);
            String id = (String) submitted.get("id");
            assertEquals(1, submitted.get("position"));

            List<MontageClient.Event> events = new ArrayList<>();
            MontageClient.Event last = s.client.events(id, events::add);
            assertEquals("finished", last.type());
            List<String> types = events.stream().map(MontageClient.Event::type).distinct().toList();
            assertEquals(List.of("queued", "started", "progress", "finished"), types);
            List<Integer> steps = events.stream().filter(e -> e.type().equals("progress"))
                    .map(e -> ((Number) e.data().get("step")).intValue()).toList();
            assertEquals(3, steps.get(steps.size() - 1));
            for (int i = 1; i < steps.size(); i++) {
                assertTrue(steps.get(i) > steps.get(i - 1), "progress goes forward: " + steps);
            }
            events.stream().filter(e -> e.type().equals("progress")).forEach(e -> {
                assertEquals(3, ((Number) e.data().get("total")).intValue());
                assertTrue(((Number) e.data().get("etaSeconds")).doubleValue() >= 0);
            });
            assertEquals(List.of("/v1/generations/" + id + "/images/0.png"), last.data().get("images"));

            Map<String, Object> state = s.client.generation(id);
            assertEquals("succeeded", state.get("state"));
            assertEquals(3, state.get("step"));
            assertEquals(3, state.get("total"));
            Map<String, Object> parameters = (Map<String, Object>) state.get("parameters");
            assertEquals(5, ((Number) parameters.get("seed")).intValue());
            assertEquals("euler", parameters.get("scheduler"));
            assertEquals(7.5, parameters.get("guidance"));
            List<Map<String, Object>> subjects = (List<Map<String, Object>>) parameters.get("subjects");
            assertEquals(uploadId, subjects.get(0).get("uploadId"));
            assertEquals(64, ((String) subjects.get(1).get("sha256")).length(), "the inline picture by its hash");
            assertEquals(0.8, subjects.get(1).get("scale"));
            assertNotNull(((Map<String, Object>) state.get("timings")).get("runSeconds"));

            byte[] png = s.client.image(id, 0);
            BufferedImage image = Pictures.decode(png);
            assertEquals(64, image.getWidth());
            Map<String, String> embedded = PngFiles.readParameters(new ByteArrayInputStream(png));
            assertEquals(List.of("parameters", "montage"), List.copyOf(embedded.keySet()));
            assertTrue(embedded.get("parameters").startsWith("a dog and a ball\n"), embedded.get("parameters"));
            Map<String, Object> record = new ObjectMapper().readValue(embedded.get("montage"), Map.class);
            assertEquals(5, ((Number) record.get("seed")).intValue());
            assertEquals(id, ((Map<String, Object>) record.get("montage")).get("id"));
            assertEquals(List.of(id + "-0.png", id + ".json"), files(id));
            var mode = Files.getPosixFilePermissions(Files.createFile(out.resolve("mode-reference")));
            for (String file : files(id)) {
                assertEquals(mode, Files.getPosixFilePermissions(out.resolve(file)), file + " has the umask's mode");
            }
            assertEquals(404, Http.get(s.server, "/v1/generations/" + id + "/images/1.png").statusCode());

            // a late subscriber gets the story so far: the lifecycle and the last progress
            List<String> replay = new ArrayList<>();
            s.client.events(id, e -> replay.add(e.type() + (e.type().equals("progress") ? e.data().get("step") : "")));
            assertEquals(List.of("queued", "started", "progress3", "finished"), replay);

            // on the wire: each event carries its sequence as id, and Last-Event-ID skips those seen
            String stream = Http.text(events(s, id, "2"));
            List<String> ids = stream.lines().filter(l -> l.startsWith("id: ")).toList();
            List<String> sent = stream.lines().filter(l -> l.startsWith("event: ")).toList();
            assertEquals(List.of("event: progress", "event: finished"), sent, stream);
            assertTrue(ids.stream().allMatch(i -> Long.parseLong(i.substring(4)) > 2), stream);
            assertTrue(stream.startsWith(": events of generation " + id + "\n"), stream);
            HttpResponse<byte[]> notAsked = Http.send(HttpRequest.newBuilder(URI.create(s.server.url()
                    + "/v1/generations/" + id + "/events")).build());
            assertEquals(406, notAsked.statusCode());
            assertEquals("the events of a generation are a server-sent event stream: send Accept: text/event-stream",
                    ((List<Map<String, Object>>) Http.json(notAsked).get("errors")).get(0).get("message"));
        }
    }

    private static HttpResponse<byte[]> events(TestServer s, String id, String lastEventId) {
        return Http.send(HttpRequest.newBuilder(URI.create(s.server.url() + "/v1/generations/" + id + "/events"))
                .header("Accept", "text/event-stream").header("Last-Event-ID", lastEventId).build());
    }

    @Test
    void cancelQueuedAndRunning() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            String running = (String) s.client.submit(request("a dog " + TestServer.HOLD, 5, 1)).get("id");
            await("the held generation is at its first step",
                    () -> Integer.valueOf(1).equals(generation(s.client, running).get("step")));
            Map<String, Object> queuedSubmission = s.client.submit(request("a cat", 2, 2));
            String queued = (String) queuedSubmission.get("id");
            assertEquals(1, queuedSubmission.get("position"));
            assertEquals(1, s.client.generation(queued).get("position"));

            Map<String, Object> cancelledQueued = s.client.cancel(queued);
            assertEquals("cancelled", cancelledQueued.get("state"));
            List<String> queuedEvents = new ArrayList<>();
            s.client.events(queued, e -> queuedEvents.add(e.type()));
            assertEquals(List.of("queued", "cancelled"), queuedEvents);

            HttpResponse<byte[]> stopping = Http.send(HttpRequest.newBuilder(
                    URI.create(s.server.url() + "/v1/generations/" + running)).DELETE().build());
            assertEquals(202, stopping.statusCode());
            s.release();
            MontageClient.Event last = s.client.events(running, e -> { });
            assertEquals("cancelled", last.type());
            assertEquals("cancelled by the client", last.data().get("reason"));
            Map<String, Object> state = s.client.generation(running);
            assertEquals("cancelled", state.get("state"));
            assertEquals(2, state.get("step"), "stopped at the first step after the cancel");
            assertEquals(5, state.get("total"));
            assertEquals(List.of(), files(running));
            assertEquals(List.of(), files(queued));

            // the worker is free again, and an ended generation cannot be cancelled
            String next = (String) s.client.submit(request("a bird", 1, 3)).get("id");
            assertEquals("finished", s.client.events(next, e -> { }).type());
            MontageClient.ApiError conflict = assertThrows(MontageClient.ApiError.class, () -> s.client.cancel(next));
            assertEquals(409, conflict.status());
            MontageClient.ApiError missing = assertThrows(MontageClient.ApiError.class,
                    () -> s.client.cancel("0123456789abcdef0123456789abcdef"));
            assertEquals(404, missing.status());
        }
    }

    @Test
    void invalidRequestNamesEveryBadField() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            String picture = Pictures.base64(Pictures.oval(Color.RED, 32));
            String body = """
                    {"prompt": "a dog", "width": 100, "height": 4096, "steps": 0, "guidance": "strong",
                     "scale": -1, "count": 99, "scheduler": "nope", "colour": "red",
                     "autoLayout": {"threshold": 2, "startStep": -1},
                     "subjects": [
                       {"image": "%s"},
                       {"image": "%s", "phrase": "cat", "box": [0.6, 0.1, 0.2, 0.9]},
                       {"uploadId": "0123456789abcdef0123456789abcdef", "phrase": "ball"},
                       {"image": "not base64!", "phrase": "cube", "box": [0, 0, 1]},
                       {"image": "%s", "uploadId": "x", "phrase": "hat", "dropGrounding": "yes"}
                     ],
                     "controls": [{"type": "canny", "image": "%s"}]}
                    """.formatted(picture, picture, picture, picture);
            HttpResponse<byte[]> response = Http.postJson(s.server, body);
            assertEquals(400, response.statusCode(), Http.text(response));
            assertEquals(Set.of("width", "height", "steps", "guidance", "scale", "count", "scheduler", "colour",
                    "autoLayout.threshold", "autoLayout.startStep", "subjects[0].phrase", "subjects[1].box",
                    "subjects[2].uploadId", "subjects[3].image", "subjects[3].box", "subjects[4].image",
                    "subjects[4].dropGrounding", "controls[0].type"), Http.errorFields(response),
                    Http.text(response));
            assertTrue(Http.text(response).contains("box.x0 must be < box.x1"), Http.text(response));

            HttpResponse<byte[]> notJson = Http.postJson(s.server, "{\"prompt\": ");
            assertEquals(400, notJson.statusCode());
            assertEquals(Set.of("body"), Http.errorFields(notJson));
            assertEquals(Set.of("prompt"), Http.errorFields(Http.postJson(s.server, "{\"width\": 64, \"height\": 64}")));
            assertEquals(Set.of("body"), Http.errorFields(Http.postJson(s.server, "[1, 2]")));
            assertEquals(List.of(), Http.json(Http.get(s.server, "/v1/queue")).get("queued"), "nothing was queued");
        }
    }

    @Test
    void earlierResultsSurviveARestartAndTemporaryLeftoversDoNot() throws Exception {
        String id;
        byte[] png;
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            id = (String) s.client.submit(request("a dog", 2, 9)).get("id");
            s.client.events(id, e -> { });
            png = s.client.image(id, 0);
        }
        Path leftover = out.resolve(".abc-0.png12345.tmp");
        Files.write(leftover, new byte[] {1, 2, 3});
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            assertFalse(Files.exists(leftover), "a crash's temporary file is removed at start");
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> listed = (List<Map<String, Object>>) Http.json(
                    Http.get(s.server, "/v1/generations")).get("generations");
            assertEquals(1, listed.size());
            assertEquals(id, listed.get(0).get("id"));
            assertEquals("succeeded", listed.get(0).get("state"));
            assertArrayEquals(png, s.client.image(id, 0));
            assertEquals("finished", s.client.events(id, e -> { }).type());
        }
    }

    @Test
    void aFailedGenerationLeavesNoFileAndSaysWhy() throws Exception {
        GenerationService.Generator failing = (request, loras, listener) -> TestServer.plain(request,
                request.prompt().contains("[fail]") ? (step, total, elapsed) -> {
                    throw new IllegalStateException("the device fell over at step " + step);
                } : listener);
        try (TestServer s = TestServer.start(TestServer.settings(out).build(), failing)) {
            String id = (String) s.client.submit(request("a dog [fail]", 3, 1)).get("id");
            MontageClient.Event last = s.client.events(id, e -> { });
            assertEquals("failed", last.type());
            assertEquals("IllegalStateException: the device fell over at step 1", last.data().get("reason"));
            assertEquals("failed", state(s.client, id));
            assertEquals(List.of(), files(id));
            try (Stream<Path> all = Files.list(out)) {
                assertEquals(List.of("uploads"), all.map(p -> p.getFileName().toString()).toList());
            }
        }
    }

    @Test
    void fullQueueAnswers429WithRetryAfter() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).queueSize(1).build())) {
            String running = (String) s.client.submit(request("a dog " + TestServer.HOLD, 2, 1)).get("id");
            await("the held generation runs", () -> state(s.client, running).equals("running"));
            String waiting = (String) s.client.submit(request("a cat", 1, 2)).get("id");
            HttpResponse<byte[]> full = Http.postJson(s.server, Http.JSON.writeValueAsString(request("a cow", 1, 3)));
            assertEquals(429, full.statusCode());
            assertTrue(Long.parseLong(full.headers().firstValue("Retry-After").orElseThrow()) >= 1);
            assertTrue(Http.text(full).contains("queue is full"), Http.text(full));
            assertTrue(Http.text(Http.get(s.server, "/metrics"))
                    .contains("montage_generations_rejected_total{reason=\"queue_full\"} 1.0"));
            s.release();
            assertEquals("finished", s.client.events(running, e -> { }).type());
            assertEquals("finished", s.client.events(waiting, e -> { }).type());
        }
    }

    @Test
    void oversizedBodiesAndPicturesAnswer413() throws Exception {
        ServerSettings settings = TestServer.settings(out).maxBodyBytes(16384).maxImageBytes(4000)
                .maxImagePixels(150 * 150).build();
        try (TestServer s = TestServer.start(settings)) {
            HttpResponse<byte[]> body = Http.postJson(s.server, Http.JSON.writeValueAsString(
                    request("a dog " + "very ".repeat(5000), 1, 1)));
            assertEquals(413, body.statusCode());
            assertEquals(Set.of("body"), Http.errorFields(body));

            MontageClient.ApiError upload = assertThrows(MontageClient.ApiError.class,
                    () -> s.client.upload(Pictures.noise(60), "noise.png"));
            assertEquals(413, upload.status());
            assertEquals("image", upload.errors().get(0).field());

            MontageClient.ApiError pixels = assertThrows(MontageClient.ApiError.class,
                    () -> s.client.upload(Pictures.oval(Color.RED, 200), "big.png"));
            assertEquals(413, pixels.status(), "200x200 is more than 150x150 pixels, though few bytes");

            Map<String, Object> inline = request("a dog", 1, 1);
            inline.put("subjects", List.of(Map.of("image", Pictures.base64(Pictures.noise(45)), "phrase", "dog")));
            HttpResponse<byte[]> inlineTooLarge = Http.postJson(s.server, Http.JSON.writeValueAsString(inline));
            assertEquals(413, inlineTooLarge.statusCode(), Http.text(inlineTooLarge));
            assertEquals(Set.of("subjects[0].image"), Http.errorFields(inlineTooLarge));

            MontageClient.ApiError notPicture = assertThrows(MontageClient.ApiError.class,
                    () -> s.client.upload("hello".getBytes(StandardCharsets.UTF_8), "a.txt"));
            assertEquals(400, notPicture.status());
            assertNotNull(s.client.upload(Pictures.oval(Color.GREEN, 40), "small.png"), "small pictures pass");
        }
    }

    /**
     * Bodies far larger than the socket buffers, refused before they are read: the server reads and drops them, so
     * the client, still sending, gets the answer instead of a broken pipe, and the connection serves the next one.
     */
    @Test
    void refusedBodiesAreReadSoTheirClientGetsTheAnswer() throws Exception {
        byte[] large = new byte[12 << 20];
        new Random(7).nextBytes(large);
        Map<String, Object> largeRequest = request("a dog " + "very ".repeat(5 << 19), 1, 1);
        try (TestServer s = TestServer.start(TestServer.settings(out).maxBodyBytes(16384).maxImageBytes(4000)
                .authToken("secret").build())) {
            for (int round = 0; round < 2; round++) {
                MontageClient.ApiError upload = assertThrows(MontageClient.ApiError.class,
                        () -> s.client.upload(large, "large.png"));
                assertEquals(413, upload.status());
                MontageClient.ApiError body = assertThrows(MontageClient.ApiError.class,
                        () -> s.client.submit(largeRequest));
                assertEquals(413, body.status());
                MontageClient.ApiError unauthorized = assertThrows(MontageClient.ApiError.class,
                        () -> s.client(Optional.empty()).upload(large, "large.png"));
                assertEquals(401, unauthorized.status());
                assertNotNull(s.client.upload(Pictures.oval(Color.GREEN, 40), "small.png"));
            }
            for (String path : List.of("/v1/uploads", "/v1/generations")) {
                assertEquals("HTTP/1.1 413 Payload Too Large", answerWithheldBody(s.server, path, "secret"), path
                        + ": a body held back with Expect: 100-continue is refused without being asked for");
            }
            assertEquals("HTTP/1.1 401 Unauthorized", answerWithheldBody(s.server, "/v1/uploads", null));
        }
    }

    /** The status line answering headers that declare a large body and hold it back until asked for. */
    private static String answerWithheldBody(MontageServer server, String path, String token) throws IOException {
        URI uri = URI.create(server.url());
        try (Socket socket = new Socket(uri.getHost(), uri.getPort())) {
            socket.setSoTimeout(20_000);
            String head = "POST " + path + " HTTP/1.1\r\nHost: " + uri.getAuthority() + "\r\n"
                    + (token == null ? "" : "Authorization: Bearer " + token + "\r\n")
                    + "Content-Type: application/json\r\nContent-Length: " + (12 << 20)
                    + "\r\nExpect: 100-continue\r\n\r\n";
            socket.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
            return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII))
                    .readLine();
        }
    }
}

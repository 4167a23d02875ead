package dev.montage.dist.server;

import static dev.montage.dist.server.ServerApiTest.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bounds on what one request may ask of the server, and the answers to malformed uploads. */
class RequestLimitsTest {
    private static final String BOUNDARY = "montage-test-boundary";
    private static final byte[] SMALL = Pictures.oval(Color.RED, 32);

    @TempDir
    Path out;

    private static String message(HttpResponse<byte[]> response, String field) {
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> errors = (List<Map<String, Object>>) Http.json(response).get("errors");
        return errors.stream().filter(e -> field.equals(e.get("field"))).map(e -> (String) e.get("message"))
                .findFirst().orElseThrow(() -> new AssertionError("no error names " + field + ": "
                        + Http.text(response)));
    }

    @Test
    void subjectAndControlCountsAreBoundedBeforeAnyPictureIsDecoded() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).maxControls(4).build())) {
            // 130 KB that decode to 32 MB each: twenty of them took the heap before the counts were bounded
            String big = s.client.upload(Pictures.flat16(4096), "big.png");
            Map<String, Object> subjects = request("a dog", 1, 1);
            subjects.put("subjects", Collections.nCopies(20, Map.of("uploadId", big, "phrase", "dog")));
            HttpResponse<byte[]> tooManySubjects = Http.postJson(s.server, Http.JSON.writeValueAsString(subjects));
            assertEquals(400, tooManySubjects.statusCode(), Http.text(tooManySubjects));
            assertEquals("has 20 subjects, more than the limit of 8 on this server",
                    message(tooManySubjects, "subjects"));

            String small = s.client.upload(Pictures.oval(Color.RED, 32), "small.png");
            Map<String, Object> controls = request("a dog", 1, 1);
            controls.put("controls", Collections.nCopies(5, Map.of("type", "canny", "uploadId", small)));
            HttpResponse<byte[]> tooManyControls = Http.postJson(s.server, Http.JSON.writeValueAsString(controls));
            assertEquals(400, tooManyControls.statusCode(), Http.text(tooManyControls));
            assertEquals("has 5 controls, more than the limit of 4 on this server",
                    message(tooManyControls, "controls"));
        }
    }

    @Test
    void theInputPixelsOfARequestAreBoundedFromThePictureHeaders() throws Exception {
        ServerSettings settings = TestServer.settings(out).maxRequestPixels(64 * 64 + 50 * 50).build();
        try (TestServer s = TestServer.start(settings)) {
            Map<String, Object> body = request("a dog and a cat", 1, 1);
            // the second picture has a header and no pixels: refused for its size, it is never decoded
            body.put("subjects", List.of(
                    Map.of("image", Pictures.base64(Pictures.oval(Color.RED, 64)), "phrase", "dog"),
                    Map.of("image", Pictures.base64(Pictures.headerOnly(64)), "phrase", "cat")));
            HttpResponse<byte[]> response = Http.postJson(s.server, Http.JSON.writeValueAsString(body));
            assertEquals(413, response.statusCode(), Http.text(response));
            assertEquals("is 64x64 = 4096 pixels; with the request's earlier pictures (4096 pixels) that is more "
                    + "than the limit of 6596 pixels per request on this server", message(response,
                    "subjects[1].image"));
        }
    }

    @Test
    void theOutputPixelsOfARequestAreBounded() throws Exception {
        ServerSettings settings = TestServer.settings(out).maxOutputPixels(64 * 64 * 2).build();
        try (TestServer s = TestServer.start(settings)) {
            Map<String, Object> body = request("a dog", 1, 1);
            body.put("count", 3);
            HttpResponse<byte[]> response = Http.postJson(s.server, Http.JSON.writeValueAsString(body));
            assertEquals(400, response.statusCode(), Http.text(response));
            assertEquals("width x height x count is 64 x 64 x 3 = 12288 pixels, more than the limit of 8192 on "
                    + "this server", message(response, "count"));
        }
    }

    private static HttpResponse<byte[]> upload(TestServer s, String contentType, byte[] body) {
        return Http.send(HttpRequest.newBuilder(URI.create(s.server.url() + "/v1/uploads"))
                .header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
    }

    private static byte[] multipart(int extraFields, byte[] picture, boolean closed) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (int i = 0; i < extraFields; i++) {
            body.writeBytes(("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"f" + i + "\"\r\n\r\nx\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
        }
        body.writeBytes(("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
                + "Content-Type: image/png\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        body.writeBytes(picture);
        if (closed) {
            body.writeBytes(("\r\n--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.US_ASCII));
        }
        return body.toByteArray();
    }

    @Test
    void malformedMultipartBodiesAndTooManyPartsAre400() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            String withBoundary = "multipart/form-data; boundary=" + BOUNDARY;
            assertEquals(201, upload(s, withBoundary, multipart(0, SMALL, true)).statusCode());

            HttpResponse<byte[]> unclosed = upload(s, withBoundary, multipart(0, SMALL, false));
            assertEquals(400, unclosed.statusCode(), Http.text(unclosed));
            assertTrue(message(unclosed, "image").startsWith("unreadable multipart body: "), Http.text(unclosed));

            HttpResponse<byte[]> noBoundary = upload(s, "multipart/form-data", multipart(0, SMALL, true));
            assertEquals(400, noBoundary.statusCode(), Http.text(noBoundary));
            assertTrue(message(noBoundary, "image").startsWith("unreadable multipart body: "),
                    Http.text(noBoundary));

            HttpResponse<byte[]> manyFields = upload(s, withBoundary, multipart(5000, SMALL, true));
            assertEquals(400, manyFields.statusCode(), Http.text(manyFields));
            assertEquals("the multipart body has more than 16 parts; send the picture alone, in a file part "
                    + "named image", message(manyFields, "image"));
        }
    }
}

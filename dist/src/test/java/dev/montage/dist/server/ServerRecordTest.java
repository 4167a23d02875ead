package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's records are requests: the README's example is one, a sidecar posted again gives the same pixels. */
class ServerRecordTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern README_REQUEST = Pattern.compile(
            "curl -s http://127\\.0\\.0\\.1:8080/v1/generations .*?<<'JSON'\\n(.*?)\\nJSON\\n", Pattern.DOTALL);

    @TempDir
    Path out;

    @Test
    @SuppressWarnings("unchecked")
    void theReadmesRequestIsAccepted() throws Exception {
        String readme = Files.readString(Path.of(System.getProperty("user.dir")).resolveSibling("README.md"));
        Matcher m = README_REQUEST.matcher(readme);
        assertTrue(m.find(), "the README shows a request body");
        Map<String, Object> body = JSON.readValue(m.group(1), Map.class);
        try (TestServer s = TestServer.start(TestServer.settings(out).maxSize(1024, 1024).build())) {
            String id = (String) s.client.submit(body).get("id");
            Map<String, Object> parameters = (Map<String, Object>) s.client.generation(id).get("parameters");
            assertEquals(42, ((Number) parameters.get("seed")).intValue());
            assertEquals("dog", ((List<Map<String, Object>>) parameters.get("subjects")).get(0).get("phrase"));
            s.client.cancel(id);
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void aSidecarPostedAgainGivesTheSamePixels() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            String upload = s.client.upload(Pictures.oval(Color.RED, 48), "dog.png");
            byte[] cat = Pictures.oval(Color.BLUE, 40);
            Map<String, Object> body = ServerApiTest.request("a dog and a cat", 2, 9);
            body.put("subjects", List.of(
                    Map.of("uploadId", upload, "phrase", "dog", "box", List.of(0.1, 0.1, 0.5, 0.9)),
                    Map.of("image", Pictures.base64(cat), "phrase", "cat", "box", List.of(0.5, 0.2, 0.9, 0.8))));
            String first = finished(s, body);
            Map<String, Object> sidecar = JSON.readValue(out.resolve(first + ".json").toFile(), Map.class);
            assertEquals(first, ((Map<String, Object>) sidecar.get("montage")).get("id"));

            // the inline picture is recorded by its hash and given again; the upload is found by its id
            List<Map<String, Object>> subjects = (List<Map<String, Object>>) sidecar.get("subjects");
            Map<String, Object> again = new LinkedHashMap<>(subjects.get(1));
            again.put("image", Pictures.base64(cat));
            sidecar.put("subjects", List.of(subjects.get(0), again));
            String second = finished(s, sidecar);
            assertArrayEquals(Pictures.pixels(s.client.image(first, 0)), Pictures.pixels(s.client.image(second, 0)));

            again.put("image", Pictures.base64(Pictures.oval(Color.GREEN, 40)));
            MontageClient.ApiError refused = assertThrows(MontageClient.ApiError.class, () -> s.client.submit(sidecar));
            assertEquals(400, refused.status());
            assertEquals("subjects[1].sha256", refused.errors().get(0).field());
        }
    }

    private static String finished(TestServer s, Map<String, Object> body) throws Exception {
        String id = (String) s.client.submit(body).get("id");
        assertEquals("finished", s.client.events(id, e -> { }).type());
        return id;
    }
}

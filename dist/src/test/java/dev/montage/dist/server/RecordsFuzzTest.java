package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.dist.record.ImportedRecordFuzzTest;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code POST /v1/records} answers any workflow a client sends with a request or a 400 naming the field, never a 500. */
class RecordsFuzzTest {
    @TempDir
    Path out;

    @Test
    void mutatedWorkflowsAreAnsweredOrRefused() throws Exception {
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            for (String workflow : ImportedRecordFuzzTest.mutatedWorkflows()) {
                String body = Http.JSON.writeValueAsString(Map.of("chunks", Map.of("prompt", workflow)));
                HttpResponse<byte[]> answer = Http.send(HttpRequest.newBuilder(URI.create(s.server.url()
                        + "/v1/records")).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build());
                assertTrue(answer.statusCode() == 200 || answer.statusCode() == 400 && Http.json(answer).containsKey(
                        "errors"), answer.statusCode() + " " + Http.text(answer) + " for " + workflow);
            }
        }
    }
}

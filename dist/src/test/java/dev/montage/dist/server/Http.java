package dev.montage.dist.server;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** Raw HTTP calls for tests that look at statuses, headers and bodies the client would hide. */
final class Http {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private Http() {
    }

    static HttpResponse<byte[]> send(HttpRequest request) {
        try {
            return CLIENT.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static HttpResponse<byte[]> get(MontageServer server, String path) {
        return send(HttpRequest.newBuilder(URI.create(server.url() + path)).GET().build());
    }

    static HttpResponse<byte[]> postJson(MontageServer server, String json) {
        return send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/generations"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    static Map<String, Object> json(HttpResponse<byte[]> response) {
        try {
            return JSON.readValue(response.body(), new TypeReference<>() {
            });
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON: " + text(response), e);
        }
    }

    static String text(HttpResponse<byte[]> response) {
        return new String(response.body(), StandardCharsets.UTF_8);
    }

    /** The {@code field}s of an {@code {errors: [...]}} answer. */
    @SuppressWarnings("unchecked")
    static Set<String> errorFields(HttpResponse<byte[]> response) {
        Set<String> fields = new TreeSet<>();
        for (Map<String, Object> e : (List<Map<String, Object>>) json(response).get("errors")) {
            fields.add(String.valueOf(e.get("field")));
        }
        return fields;
    }
}

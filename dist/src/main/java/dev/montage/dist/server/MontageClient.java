package dev.montage.dist.server;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.FieldError;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** A client of the server's HTTP API, as {@code montage submit} and the tests use it. */
public final class MontageClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<Map<String, Object>> OBJECT = new TypeReference<>() {
    };
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    /**
     * One server-sent event.
     *
     * @param type e.g. {@code progress}
     * @param data its JSON object
     */
    public record Event(String type, Map<String, Object> data) {
        /** Whether it is the generation's last event. */
        public boolean terminal() {
            return type.equals(JobEvent.FINISHED) || type.equals(JobEvent.FAILED) || type.equals(JobEvent.CANCELLED);
        }
    }

    /** An error answer of the server: its status and the fields it names. */
    public static final class ApiError extends IOException {
        private final int status;
        private final transient List<FieldError> errors;
        private final OptionalLong retryAfterSeconds;

        ApiError(int status, List<FieldError> errors, OptionalLong retryAfterSeconds) {
            super("HTTP " + status + ": " + errors.stream().map(e -> e.field() == null ? e.message() : e.toString())
                    .collect(Collectors.joining("; ")));
            this.status = status;
            this.errors = List.copyOf(errors);
            this.retryAfterSeconds = retryAfterSeconds;
        }

        public int status() {
            return status;
        }

        public List<FieldError> errors() {
            return errors;
        }

        /** The {@code Retry-After} of a {@code 429}. */
        public OptionalLong retryAfterSeconds() {
            return retryAfterSeconds;
        }
    }

    private final URI server;
    private final Optional<String> token;
    private final HttpClient http;

    /**
     * @param server e.g. {@code http://127.0.0.1:8080}
     * @param token  the bearer token, if the server needs one
     */
    public MontageClient(URI server, Optional<String> token) {
        String base = server.toString();
        this.server = URI.create(base.endsWith("/") ? base.substring(0, base.length() - 1) : base);
        this.token = token;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(CONNECT_TIMEOUT)
                .build();
    }

    /** Uploads a picture; returns its id for a subject's or control's {@code uploadId}. */
    public String upload(byte[] picture, String fileName) throws IOException, InterruptedException {
        String boundary = "montage-" + Ids.next();
        byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"image\"; filename=\""
                + fileName.replace("\"", "") + "\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .getBytes(StandardCharsets.UTF_8);
        byte[] tail = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8);
        HttpRequest request = request("/v1/uploads").header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArrays(List.of(head, picture, tail))).build();
        return (String) json(request).get("id");
    }

    /** Queues a generation; returns {@code {id, position}}. */
    public Map<String, Object> submit(Map<String, Object> body) throws IOException, InterruptedException {
        return json(request("/v1/generations").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build());
    }

    /** The generation's state, progress, parameters and image paths. */
    public Map<String, Object> generation(String id) throws IOException, InterruptedException {
        return json(request("/v1/generations/" + id).GET().build());
    }

    /** The served model: its schedulers, control types, LoRAs and weights. */
    public Map<String, Object> models() throws IOException, InterruptedException {
        return json(request("/v1/models").GET().build());
    }

    /** Cancels a generation; returns its state after the request. */
    public Map<String, Object> cancel(String id) throws IOException, InterruptedException {
        return json(request("/v1/generations/" + id).DELETE().build());
    }

    /** Image {@code n} of a succeeded generation, as PNG bytes. */
    public byte[] image(String id, int n) throws IOException, InterruptedException {
        HttpResponse<byte[]> response = http.send(request("/v1/generations/" + id + "/images/" + n + ".png").GET()
                .build(), HttpResponse.BodyHandlers.ofByteArray());
        check(response.statusCode(), response.headers(), response.body());
        return response.body();
    }

    /**
     * Follows a generation's events until it ends, handing each to {@code listener}.
     *
     * @return the last event: finished, failed or cancelled
     * @throws IOException when the stream ends before the generation does
     */
    public Event events(String id, Consumer<Event> listener) throws IOException, InterruptedException {
        HttpResponse<Stream<String>> response = http.send(request("/v1/generations/" + id + "/events")
                .header("Accept", "text/event-stream").GET().build(), HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() != 200) {
            String body = response.body().collect(Collectors.joining("\n"));
            check(response.statusCode(), response.headers(), body.getBytes(StandardCharsets.UTF_8));
        }
        try (Stream<String> lines = response.body()) {
            String type = null;
            StringBuilder data = new StringBuilder();
            for (Iterator<String> it = lines.iterator(); it.hasNext(); ) {
                String line = it.next();
                if (line.isEmpty()) {
                    if (type != null) {
                        Event event = new Event(type, JSON.readValue(data.toString(), OBJECT));
                        listener.accept(event);
                        if (event.terminal()) {
                            return event;
                        }
                    }
                    type = null;
                    data.setLength(0);
                } else if (line.startsWith("event:")) {
                    type = line.substring("event:".length()).trim();
                } else if (line.startsWith("data:")) {
                    data.append(data.length() == 0 ? "" : "\n").append(line.substring("data:".length()).trim());
                }
            }
        }
        throw new IOException("the event stream of generation " + id + " ended before the generation did");
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server + path));
        token.ifPresent(t -> b.header("Authorization", "Bearer " + t));
        return b;
    }

    private Map<String, Object> json(HttpRequest request) throws IOException, InterruptedException {
        HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        check(response.statusCode(), response.headers(), response.body());
        return JSON.readValue(response.body(), OBJECT);
    }

    private static void check(int status, HttpHeaders headers, byte[] body) throws ApiError {
        if (status < 400) {
            return;
        }
        List<FieldError> errors = new ArrayList<>();
        try {
            Object list = JSON.readValue(body, OBJECT).get("errors");
            if (list instanceof List<?> l) {
                for (Object o : l) {
                    Map<?, ?> e = (Map<?, ?>) o;
                    errors.add(new FieldError((String) e.get("field"), String.valueOf(e.get("message"))));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not the server's error format (a proxy's page, say): its text is all there is to show
        }
        if (errors.isEmpty()) {
            errors.add(new FieldError(null, new String(body, StandardCharsets.UTF_8)));
        }
        OptionalLong retryAfter = headers.firstValue("Retry-After").map(v -> OptionalLong.of(Long.parseLong(v)))
                .orElse(OptionalLong.empty());
        throw new ApiError(status, errors, retryAfter);
    }
}

package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.Control;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.dist.server.MontageClient;
import dev.montage.dist.server.MontageServer;
import dev.montage.dist.server.ServerSection;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Controls through the HTTP API: {@code montage serve} on a profile with the tiny random model and its random
 * ControlNet as {@code canny} serves that type, lists it in {@code /v1/models}, applies a canny control sent inline
 * or uploaded exactly as the in-process pipeline does, and refuses other types naming the field and the served ones.
 */
class ServeControlsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void aCannyControlSentInlineOrUploadedGivesThePixelsOfTheInProcessPipeline() throws Exception {
        Path controlNet = TinyModel.folder().resolve("controlnet");
        Path profile = Files.writeString(dir.resolve("canny.yaml"), """
                engine: {device: cpu, dtype: float32}
                models:
                  base: %s
                  controlnets: {canny: %s}
                server: {port: 0, output_dir: %s}
                """.formatted(TinyModel.folder(), controlNet, dir.resolve("results")));
        byte[] picture = png(ControlNetBehaviourTest.picture(Color.WHITE));
        Map<String, Object> inline = request(Map.of("type", "canny", "image", Base64.getEncoder()
                .encodeToString(picture), "scale", 0.8));
        try (ServeRun serve = ServeRun.start(Map.of(), "--profile", "server," + profile)) {
            assertTrue(serve.log().contains("; controls canny;"), serve.log());
            MontageClient client = new MontageClient(URI.create(serve.url()), Optional.empty());

            Map<String, Object> model = model(serve.url());
            assertEquals(List.of("canny"), model.get("controlTypes"));
            assertEquals(List.of(Map.of("type", "canny", "path", controlNet.toString(), "status", "loaded")),
                    model.get("controlNets"));
            assertTrue(documentedModelKeys().containsAll(model.keySet()), "OpenAPI Models lists " + model.keySet());

            int[] expected = inProcess(profile, picture);
            assertArrayEquals(expected, pixels(generate(client, inline)), "control as base64");
            String uploadId = client.upload(picture, "cube.png");
            assertArrayEquals(expected, pixels(generate(client, request(Map.of("type", "canny", "uploadId", uploadId,
                    "scale", 0.8)))), "control as an upload");

            MontageClient.ApiError unknown = assertThrows(MontageClient.ApiError.class, () -> client.submit(
                    request(Map.of("type", "depth", "uploadId", uploadId))));
            assertEquals(400, unknown.status());
            FieldError error = unknown.errors().get(0);
            assertEquals("controls[0].type", error.field());
            assertTrue(error.message().contains("'depth'") && error.message().contains("has canny"), error.message());
            assertEquals(new FieldError("controls[0].type", "no ControlNet serves 'cany'; did you mean canny? (this "
                    + "pipeline has canny; configure controlnet.cany, e.g. model=DIR in the control or "
                    + "controlnets.cany in the profile)"), refused(client, Map.of("type", "cany", "uploadId", uploadId)));
            assertEquals(new FieldError("controls[0].options.lw", "unknown option; did you mean low? (expected an "
                    + "option of preprocessor 'canny': low, high, l2, input, resolution)"), refused(client,
                    Map.of("type", "canny", "uploadId", uploadId, "options", Map.of("lw", "40"))));
        }
    }

    /** The one field error of a request with this control, answered with 400 before it is queued. */
    private static FieldError refused(MontageClient client, Map<String, Object> control) {
        MontageClient.ApiError e = assertThrows(MontageClient.ApiError.class, () -> client.submit(request(control)));
        assertEquals(400, e.status());
        assertEquals(1, e.errors().size(), e.errors().toString());
        return e.errors().get(0);
    }

    private static Map<String, Object> request(Map<String, Object> control) {
        Map<String, Object> body = new HashMap<>(Map.of("prompt", "a cube on a table", "width", 64, "height", 64,
                "steps", 3, "seed", 11));
        body.put("controls", List.of(control));
        return body;
    }

    /**
     * The first image of the same request run in this JVM on a pipeline built from the same profile, after checking
     * that the control changes it.
     */
    private static int[] inProcess(Path profile, byte[] picture) throws IOException {
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(picture));
        try (MontagePipeline pipeline = MontagePipeline.builder().catalog(ConfigurationOptions.catalog())
                .section(ServerSection.PROFILE).registry(TinyModel.registry()).engine(TestEngine.engine())
                .profile(profile).build()) {
            GenerationRequest.Builder request = pipeline.request("a cube on a table").size(64, 64).steps(3).seed(11);
            int[] plain = pixels(pipeline.generate(request.build()).images().get(0));
            int[] controlled = pixels(pipeline.generate(request.control(Control.of("canny", image, 0.8)).build())
                    .images().get(0));
            assertFalse(Arrays.equals(plain, controlled), "the control changes the image");
            return controlled;
        }
    }

    private static byte[] generate(MontageClient client, Map<String, Object> body) throws Exception {
        String id = (String) client.submit(body).get("id");
        MontageClient.Event last = client.events(id, e -> { });
        assertEquals("finished", last.type(), last.data().toString());
        return client.image(id, 0);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> model(String url) throws Exception {
        HttpResponse<byte[]> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create(url + "/v1/models")).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, response.statusCode());
        List<Map<String, Object>> models = (List<Map<String, Object>>) JSON.readValue(response.body(), Map.class)
                .get("models");
        return models.get(0);
    }

    private static Set<String> documentedModelKeys() throws IOException {
        try (InputStream in = MontageServer.class.getResourceAsStream("openapi.json")) {
            JsonNode properties = JSON.readTree(in).at("/components/schemas/Models/properties/models/items/properties");
            Set<String> keys = new TreeSet<>();
            properties.fieldNames().forEachRemaining(keys::add);
            return keys;
        }
    }

    private static byte[] png(BufferedImage image) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return out.toByteArray();
    }

    private static int[] pixels(byte[] png) throws IOException {
        return pixels(ImageIO.read(new ByteArrayInputStream(png)));
    }

    private static int[] pixels(BufferedImage image) {
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }
}

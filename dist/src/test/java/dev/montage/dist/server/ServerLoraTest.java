package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.ProgressListener;
import dev.montage.runtime.pipeline.Lora;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRAs per request from the server's LoRA folder: each request's pixels are those of a pipeline freshly built with
 * its LoRAs (none, one set, another set), whatever ran before, so the model without LoRAs never drifts; names that
 * are not in the folder, paths and repeated names are refused at submit, naming the field.
 */
class ServerLoraTest {
    private static final String STYLE = "style";

    @TempDir
    Path out;

    @TempDir
    Path loras;

    private static Path goldenLora() {
        return Golden.dir().resolve("lora/tiny-lora-kohya.safetensors").toAbsolutePath().normalize();
    }

    private static GenerationRequest request() {
        return GenerationRequest.builder("a cozy cabin in the mountains").negativePrompt("blurry").size(64, 64)
                .steps(3).guidanceScale(5.0).seed(1201).scheduler("euler").build();
    }

    private static Map<String, Object> body(List<Map<String, Object>> requestLoras) {
        Map<String, Object> body = ServerApiTest.request("a cozy cabin in the mountains", 3, 1201);
        body.put("negativePrompt", "blurry");
        body.put("guidance", 5.0);
        body.put("scheduler", "euler");
        if (!requestLoras.isEmpty()) {
            body.put("loras", requestLoras);
        }
        return body;
    }

    private static int[] pixels(byte[] png) throws Exception {
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    private static int[] pixels(MontagePipeline pipeline) {
        BufferedImage image = pipeline.generate(request(), ProgressListener.NONE).images().get(0);
        return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
    }

    private static int[] run(TestServer s, List<Map<String, Object>> requestLoras) throws Exception {
        String id = (String) s.client.submit(body(requestLoras)).get("id");
        MontageClient.Event end = s.client.events(id, e -> { });
        assertEquals("finished", end.type(), String.valueOf(end.data()));
        return pixels(s.client.image(id, 0));
    }

    @Test
    void requestsWithAndWithoutLorasGiveWhatFreshPipelinesGive() throws Exception {
        Files.createSymbolicLink(loras.resolve(STYLE + ".safetensors"), goldenLora());
        ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());
        int[] plain;
        int[] strong;
        int[] weak;
        try (MontagePipeline fresh = TestEngine.pipeline(registry, Golden.model()).build()) {
            plain = pixels(fresh);
        }
        try (MontagePipeline fresh = TestEngine.pipeline(registry, Golden.model())
                .lora(new Lora(goldenLora(), 0.8)).build()) {
            strong = pixels(fresh);
        }
        try (MontagePipeline fresh = TestEngine.pipeline(registry, Golden.model())
                .lora(new Lora(goldenLora(), -0.5)).build()) {
            weak = pixels(fresh);
        }
        assertFalse(Arrays.equals(plain, strong), "the LoRA changes the picture");

        List<Map<String, Object>> none = List.of();
        List<Map<String, Object>> strongLora = List.of(Map.of("name", STYLE, "scale", 0.8));
        List<Map<String, Object>> weakLora = List.of(Map.of("name", STYLE + ".safetensors", "scale", -0.5));
        try (MontagePipeline pipeline = TestEngine.pipeline(registry, Golden.model()).build();
                TestServer s = TestServer.start(TestServer.settings(out).loraDir(loras).build(), pipeline, registry,
                        Golden.model())) {
            List<int[]> served = new ArrayList<>();
            for (List<Map<String, Object>> requestLoras : List.of(none, strongLora, none, weakLora, strongLora,
                    none)) {
                served.add(run(s, requestLoras));
            }
            List<int[]> expected = List.of(plain, strong, plain, weak, strong, plain);
            for (int i = 0; i < expected.size(); i++) {
                assertArrayEquals(expected.get(i), served.get(i), "request " + i);
            }

            String id = (String) s.client.submit(body(strongLora)).get("id");
            s.client.events(id, e -> { });
            assertEquals(List.of(Map.of("name", STYLE, "scale", 0.8)),
                    ((Map<?, ?>) s.client.generation(id).get("parameters")).get("loras"));
        }
    }

    @Test
    void namesOutsideTheFolderAndRepeatedNamesAreRefused() throws Exception {
        Files.createSymbolicLink(loras.resolve(STYLE + ".safetensors"), goldenLora());
        try (TestServer s = TestServer.start(TestServer.settings(out).loraDir(loras).maxLoras(2).build())) {
            assertRefused(s, List.of(Map.of("name", "styel")), "loras[0].name", "did you mean style?");
            assertRefused(s, List.of(Map.of("name", goldenLora().toString())), "loras[0].name", "unknown LoRA");
            assertRefused(s, List.of(Map.of("name", "../" + STYLE)), "loras[0].name", "unknown LoRA");
            assertRefused(s, List.of(Map.of("name", STYLE), Map.of("name", STYLE, "scale", 0.5)), "loras[1].name",
                    "named twice");
            assertRefused(s, List.of(Map.of("name", STYLE, "weight", 0.5)), "loras[0].weight", "");
            assertRefused(s, List.of(Map.of("name", STYLE), Map.of("name", STYLE), Map.of("name", STYLE)), "loras",
                    "");
            assertEquals(List.of(STYLE), ((Map<?, ?>) ((List<?>) s.client.models().get("models")).get(0))
                    .get("loras"));
        }
        try (TestServer s = TestServer.start(TestServer.settings(out).build())) {
            assertRefused(s, List.of(Map.of("name", STYLE)), "loras[0].name", "no LoRA folder (server.lora_dir)");
        }
    }

    /**
     * The LoRAs an A1111 PNG's prompt names ({@code POST /v1/records}) are kept where the server's folder has a file of
     * that name and left out with a note where it does not.
     */
    @Test
    @SuppressWarnings("unchecked")
    void anImportedRecordKeepsTheLorasOfTheFolder() throws Exception {
        Files.createSymbolicLink(loras.resolve(STYLE + ".safetensors"), goldenLora());
        try (TestServer s = TestServer.start(TestServer.settings(out).loraDir(loras).build())) {
            String body = Http.JSON.writeValueAsString(Map.of("chunks", Map.of("parameters", "a cabin <lora:style:0.7> "
                    + "<lora:ink:0.5>\nSteps: 3, Sampler: Euler, Seed: 1, Size: 64x64")));
            Map<String, Object> answer = Http.json(Http.send(HttpRequest.newBuilder(URI.create(s.server.url()
                    + "/v1/records")).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build()));
            Map<String, Object> request = (Map<String, Object>) answer.get("request");
            assertEquals(List.of(Map.of("name", STYLE, "scale", 0.7)), request.get("loras"));
            assertEquals("a cabin  ", request.get("prompt"));
            assertEquals(List.of("LoRAs this server does not have, left out: ink at 0.5"), answer.get("notes"));
        }
    }

    private static void assertRefused(TestServer s, List<Map<String, Object>> requestLoras, String field,
            String message) {
        MontageClient.ApiError refused = assertThrows(MontageClient.ApiError.class,
                () -> s.client.submit(body(requestLoras)));
        assertEquals(400, refused.status());
        List<FieldError> errors = refused.errors();
        assertEquals(List.of(field), errors.stream().map(FieldError::field).toList(), refused.getMessage());
        assertTrue(errors.get(0).message().contains(message), errors.get(0).message());
    }
}

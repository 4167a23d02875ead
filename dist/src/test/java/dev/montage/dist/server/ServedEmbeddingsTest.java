package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.montage.dist.TinyModel;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.testing.TestEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A model folder's {@code embeddings/} is read by the pipeline and listed by {@code GET /v1/models}. */
class ServedEmbeddingsTest {
    @TempDir
    Path dir;

    @Test
    @SuppressWarnings("unchecked")
    void theModelsEmbeddingsAreListedForPromptsToName() throws Exception {
        Path model = Files.createDirectories(dir.resolve("model"));
        try (Stream<Path> entries = Files.list(TinyModel.folder())) {
            for (Path e : entries.toList()) {
                Files.createSymbolicLink(model.resolve(e.getFileName()), e.toAbsolutePath());
            }
        }
        Path embeddings = Files.createDirectories(model.resolve("embeddings"));
        TinyModel.embedding(embeddings.resolve("rex.safetensors"), 1, 0.02f);
        TinyModel.embedding(embeddings.resolve("fido.safetensors"), 2, 0.01f);
        Files.write(embeddings.resolve("fido.png"), new byte[] {1});
        try (MontagePipeline pipeline = TestEngine.pipeline(TinyModel.registry(), model).build();
                TestServer s = TestServer.start(TestServer.settings(dir.resolve("out")).build(), pipeline,
                        TinyModel.registry(), model)) {
            Map<String, Object> served = ((List<Map<String, Object>>) Http.json(Http.get(s.server, "/v1/models"))
                    .get("models")).get(0);
            assertEquals(List.of("fido", "rex"), served.get("embeddings"));
            String id = (String) s.client.submit(ServerApiTest.request("a photo of fido", 2, 1)).get("id");
            ServerApiTest.await("the generation naming an embedding ends", () -> !List.of("queued", "running")
                    .contains(ServerApiTest.state(s.client, id)));
            assertEquals("succeeded", ServerApiTest.state(s.client, id));
        }
    }
}

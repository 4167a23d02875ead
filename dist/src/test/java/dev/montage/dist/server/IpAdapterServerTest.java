package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.FieldError;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server whose pipeline takes IP-Adapter subjects: a picture with a box and a scale of its own and no phrase runs;
 * a phrase, which IP-Adapter does not read, is refused at submit, naming the field.
 */
class IpAdapterServerTest {
    @TempDir
    Path out;

    @Test
    void subjectsWithoutPhrasesRunAndPhrasesAreRefused() throws Exception {
        ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());
        try (MontagePipeline pipeline = TestEngine.pipeline(registry, Golden.model())
                .setting("models.ip_adapter", Golden.dir().resolve("ip-adapter/ip-adapter_tiny.bin"))
                .setting("components.resampler", "ip-adapter")
                .setting("components.attention.cross", "ip-adapter").build();
                TestServer s = TestServer.start(TestServer.settings(out).build(), pipeline, registry, Golden.model())) {
            String upload = s.client.upload(Pictures.oval(Color.RED, 48), "toy.png");
            Map<String, Object> body = ServerApiTest.request("a toy on a table", 2, 5);
            body.put("scale", 0.7);
            body.put("subjects", List.of(Map.of("uploadId", upload, "box", List.of(0.0, 0.0, 0.5, 1.0), "scale", 0.9)));
            String id = (String) s.client.submit(body).get("id");
            assertEquals("finished", s.client.events(id, e -> { }).type());
            Map<?, ?> subject = (Map<?, ?>) ((List<?>) ((Map<?, ?>) s.client.generation(id).get("parameters"))
                    .get("subjects")).get(0);
            assertEquals(null, subject.get("phrase"));

            body.put("subjects", List.of(Map.of("uploadId", upload, "phrase", "toy")));
            MontageClient.ApiError refused = assertThrows(MontageClient.ApiError.class, () -> s.client.submit(body));
            assertEquals(400, refused.status());
            assertEquals(List.of("subjects[0].phrase"), refused.errors().stream().map(FieldError::field).toList());
            assertTrue(refused.errors().get(0).message().contains("reads no phrases"), refused.getMessage());
        }
    }
}

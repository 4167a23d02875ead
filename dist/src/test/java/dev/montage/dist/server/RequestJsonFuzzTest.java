package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.montage.api.InvalidRequestException;
import dev.montage.dist.JsonMutations;
import dev.montage.dist.TinyModel;
import java.awt.Color;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A generation's JSON body with any member replaced by a value of any JSON kind is parsed or refused naming the field
 * ({@link InvalidRequestException}, or an {@link ApiException} of a limit), never with another exception.
 */
class RequestJsonFuzzTest {
    @TempDir
    Path dir;

    @Test
    void everyMemberReplacedIsParsedOrRefusedByField() throws Exception {
        RequestJson json = RequestJson.forPipeline(TinyModel.pipeline(), ServerSettings.builder().build(),
                new UploadStore(dir, 512 * 512));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("prompt", "a dog");
        body.put("negativePrompt", "fog");
        body.put("width", 32);
        body.put("height", 32);
        body.put("steps", 2);
        body.put("guidance", 3.0);
        body.put("guidanceRescale", 0.5);
        body.put("seed", 4);
        body.put("scheduler", "euler");
        body.put("schedulerOptions", Map.of("timestep_spacing", "trailing"));
        body.put("subjects", List.of(Map.of("image", Pictures.base64(Pictures.oval(Color.RED, 16)), "phrase", "dog",
                "box", List.of(0, 0, 0.5, 1), "scale", 0.5)));
        body.put("autoLayout", Map.of("threshold", 0.3, "startStep", 1));
        body.put("hires", Map.of("scale", 1.5, "strength", 0.5, "steps", 4, "upscaler", "latent", "scheduler",
                "dpmpp-2m", "guidance", 2.0, "prompt", "a big dog"));
        body.put("variation", Map.of("seed", 9, "strength", 0.2));
        body.put("seedResizeFrom", Map.of("width", 24, "height", 40));
        body.put("perturbedAttention", Map.of("scale", 2, "adaptiveScale", 0.001, "layers", List.of("mid")));
        JsonNode tree = Http.JSON.valueToTree(body);
        json.parse(tree);
        for (JsonNode mutated : JsonMutations.single(tree)) {
            parse(json, mutated);
        }
        for (JsonNode mutated : JsonMutations.random(tree, 300, 3)) {
            parse(json, mutated);
        }
    }

    private static void parse(RequestJson json, JsonNode body) {
        try {
            json.parse(body);
        } catch (InvalidRequestException | ApiException refused) {
            // refused, naming the field
        } catch (Exception e) {
            fail(body + ": " + e, e);
        }
    }
}

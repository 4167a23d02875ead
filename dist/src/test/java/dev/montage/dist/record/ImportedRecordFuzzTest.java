package dev.montage.dist.record;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.dist.JsonMutations;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Other tools' records come from clients of the server ({@code POST /v1/records}): whatever a workflow or a parameters
 * text holds, reading it gives a record or an {@link IllegalArgumentException} that says why, never another exception.
 */
public class ImportedRecordFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A two-pass workflow with guidance, each of its members replaced in turn by a value of each JSON kind. */
    public static List<String> mutatedWorkflows() throws IOException {
        List<String> out = new ArrayList<>();
        for (JsonNode mutated : JsonMutations.single(workflow())) {
            out.add(JSON.writeValueAsString(mutated));
        }
        return out;
    }

    private static JsonNode workflow() throws IOException {
        String plain = ComfyWorkflows.of("dpmpp_2m", "karras", ComfyPromptTest.EMPTY, ComfyPromptTest.TEXT);
        return JSON.readTree(ComfyWorkflows.withSecondPass(ComfyWorkflows.withPerturbedAttention(plain, 2.5),
                "LatentUpscaleBy", "\"upscale_method\": \"bilinear\", \"scale_by\": 1.5", "\"seed\": 1, \"steps\": 4, "
                        + "\"cfg\": 5.0, \"sampler_name\": \"euler\", \"scheduler\": \"normal\", \"denoise\": 0.5"));
    }

    @Test
    void mutatedComfyUiWorkflowsAreReadOrRefusedWithAReason() throws Exception {
        for (String workflow : mutatedWorkflows()) {
            read(Map.of("prompt", workflow), workflow);
        }
        for (JsonNode mutated : JsonMutations.random(workflow(), 500, 17)) {
            read(Map.of("prompt", JSON.writeValueAsString(mutated)), mutated.toString());
        }
        for (String text : List.of("", "[]", "{}", "null", "3", "{\"1\": null}", "{\"1\": 3}", "{\"1\": {}}",
                "{\"1\": {\"class_type\": \"KSampler\"}}", "{\"1\": {\"class_type\": \"KSampler\", \"inputs\": 3}}")) {
            read(Map.of("prompt", text), text);
        }
    }

    @Test
    void garbledA1111TextsAreReadOrRefusedWithAReason() {
        String text = "a castle <lora:ink:0.8>\nNegative prompt: fog\nSteps: 3, Sampler: DPM++ 2M, Schedule type: "
                + "Karras, CFG scale: 4, Seed: 7, Size: 64x48, Hires upscale: 1.5, Hires steps: 2, Hires upscaler: "
                + "Latent, Denoising strength: 0.5, Variation seed: 9, Variation seed strength: 0.2, pagi_enabled: "
                + "True, pagi_scale: 2";
        Random random = new Random(5);
        String alphabet = "<>:,\n x0.-\"lora";
        for (int n = 0; n < 2000; n++) {
            StringBuilder garbled = new StringBuilder(text);
            for (int k = 0; k < 1 + random.nextInt(4); k++) {
                int at = random.nextInt(garbled.length());
                switch (random.nextInt(3)) {
                    case 0 -> garbled.deleteCharAt(at);
                    case 1 -> garbled.insert(at, alphabet.charAt(random.nextInt(alphabet.length())));
                    default -> garbled.setCharAt(at, alphabet.charAt(random.nextInt(alphabet.length())));
                }
            }
            read(Map.of("parameters", garbled.toString()), garbled.toString());
        }
    }

    private static void read(Map<String, String> chunks, String what) {
        try {
            ImportedRecord.of(chunks);
        } catch (IllegalArgumentException expected) {
            // a reason the record cannot be read
        } catch (RuntimeException e) {
            fail(what + ": " + e, e);
        }
    }
}

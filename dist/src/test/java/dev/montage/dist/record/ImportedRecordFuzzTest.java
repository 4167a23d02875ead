package dev.montage.dist.record;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /** Values of every JSON kind put in place of a workflow's values. */
    private static final List<JsonNode> REPLACEMENTS = List.of(NODES.nullNode(), NODES.textNode("x"),
            NODES.textNode(""), NODES.numberNode(-1), NODES.numberNode(0), NODES.numberNode(1e300),
            NODES.numberNode(0.5), NODES.booleanNode(true), NODES.arrayNode(), NODES.arrayNode().add("3").add(0),
            NODES.arrayNode().add("99").add(0), NODES.arrayNode().add(3), NODES.objectNode());

    @Test
    void mutatedComfyUiWorkflowsAreReadOrRefusedWithAReason() throws Exception {
        List<String> single = mutatedWorkflows();
        for (String workflow : single) {
            read(Map.of("prompt", workflow), workflow);
        }
        Random random = new Random(17);
        JsonNode tree = JSON.readTree(single.get(0));
        for (int n = 0; n < 500; n++) {
            JsonNode mutated = tree.deepCopy();
            List<Map.Entry<ObjectNode, String>> members = members(mutated);
            for (int k = 0; k < 3; k++) {
                Map.Entry<ObjectNode, String> member = members.get(random.nextInt(members.size()));
                member.getKey().set(member.getValue(), REPLACEMENTS.get(random.nextInt(REPLACEMENTS.size())));
            }
            read(Map.of("prompt", JSON.writeValueAsString(mutated)), "random mutation " + n);
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

    /** Workflows of two passes and guidance with one member of one node replaced by a value of each JSON kind. */
    public static List<String> mutatedWorkflows() throws IOException {
        String plain = ComfyWorkflows.of("dpmpp_2m", "karras", ComfyPromptTest.EMPTY, ComfyPromptTest.TEXT);
        JsonNode tree = JSON.readTree(ComfyWorkflows.withSecondPass(ComfyWorkflows.withPerturbedAttention(plain, 2.5),
                "LatentUpscaleBy", "\"upscale_method\": \"bilinear\", \"scale_by\": 1.5", "\"seed\": 1, "
                        + "\"steps\": 4, \"cfg\": 5.0, \"sampler_name\": \"euler\", \"scheduler\": \"normal\", "
                        + "\"denoise\": 0.5"));
        List<String> out = new ArrayList<>();
        int members = members(tree).size();
        for (int i = 0; i < members; i++) {
            for (JsonNode replacement : REPLACEMENTS) {
                JsonNode mutated = tree.deepCopy();
                Map.Entry<ObjectNode, String> member = members(mutated).get(i);
                member.getKey().set(member.getValue(), replacement);
                out.add(JSON.writeValueAsString(mutated));
            }
        }
        return out;
    }

    private static List<Map.Entry<ObjectNode, String>> members(JsonNode tree) {
        List<ObjectNode> parents = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        collect(tree, parents, keys);
        List<Map.Entry<ObjectNode, String>> out = new ArrayList<>();
        for (int i = 0; i < parents.size(); i++) {
            out.add(Map.entry(parents.get(i), keys.get(i)));
        }
        return out;
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

    /** Every member of every object below {@code node}, as its parent and key. */
    private static void collect(JsonNode node, List<ObjectNode> parents, List<String> keys) {
        if (node instanceof ObjectNode object) {
            object.fieldNames().forEachRemaining(name -> {
                parents.add(object);
                keys.add(name);
            });
            object.elements().forEachRemaining(child -> collect(child, parents, keys));
        } else if (node instanceof ArrayNode array) {
            array.elements().forEachRemaining(child -> collect(child, parents, keys));
        }
    }
}

package dev.montage.dist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** JSON documents with members replaced by values of every JSON kind, for the fuzz tests of what clients send. */
public final class JsonMutations {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /** Values of every JSON kind, and numbers and arrays at the edges of what readers take. */
    public static final List<JsonNode> REPLACEMENTS = List.of(NODES.nullNode(), NODES.textNode("x"),
            NODES.textNode(""), NODES.numberNode(-1), NODES.numberNode(0), NODES.numberNode(1e300),
            NODES.numberNode(0.5), NODES.numberNode(Long.MAX_VALUE), NODES.booleanNode(true), NODES.arrayNode(),
            NODES.arrayNode().add("3").add(0), NODES.arrayNode().add("99").add(0), NODES.arrayNode().add(3),
            NODES.objectNode());

    private JsonMutations() {
    }

    /** Copies of {@code tree}, each with one member replaced by one of {@link #REPLACEMENTS}: every pair of them. */
    public static List<JsonNode> single(JsonNode tree) {
        List<JsonNode> out = new ArrayList<>();
        int count = members(tree).size();
        for (int i = 0; i < count; i++) {
            for (JsonNode replacement : REPLACEMENTS) {
                JsonNode mutated = tree.deepCopy();
                Map.Entry<ObjectNode, String> member = members(mutated).get(i);
                member.getKey().set(member.getValue(), replacement);
                out.add(mutated);
            }
        }
        return out;
    }

    /** {@code count} copies of {@code tree}, each with three members replaced at random. */
    public static List<JsonNode> random(JsonNode tree, int count, long seed) {
        Random random = new Random(seed);
        List<JsonNode> out = new ArrayList<>();
        for (int n = 0; n < count; n++) {
            JsonNode mutated = tree.deepCopy();
            List<Map.Entry<ObjectNode, String>> members = members(mutated);
            for (int k = 0; k < 3; k++) {
                Map.Entry<ObjectNode, String> member = members.get(random.nextInt(members.size()));
                member.getKey().set(member.getValue(), REPLACEMENTS.get(random.nextInt(REPLACEMENTS.size())));
            }
            out.add(mutated);
        }
        return out;
    }

    /** Every member of every object in {@code node}, as its object and name. */
    private static List<Map.Entry<ObjectNode, String>> members(JsonNode node) {
        List<Map.Entry<ObjectNode, String>> out = new ArrayList<>();
        collect(node, out);
        return out;
    }

    private static void collect(JsonNode node, List<Map.Entry<ObjectNode, String>> out) {
        if (node instanceof ObjectNode object) {
            object.fieldNames().forEachRemaining(name -> out.add(Map.entry(object, name)));
            object.elements().forEachRemaining(child -> collect(child, out));
        } else if (node instanceof ArrayNode array) {
            array.elements().forEachRemaining(child -> collect(child, out));
        }
    }
}

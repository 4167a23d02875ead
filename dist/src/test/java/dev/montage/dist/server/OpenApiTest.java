package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.montage.api.GenerationRequest;
import dev.montage.dist.TinyModel;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import dev.montage.runtime.pipeline.ModelPaths;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The OpenAPI document the server serves says exactly what the server answers. */
class OpenApiTest {
    private static final Set<String> METHODS = Set.of("get", "post", "put", "delete", "patch", "head", "options");
    private static final Pattern PATH_PARAMETER = Pattern.compile("\\{(\\w+)}");

    @TempDir
    Path out;

    @Test
    void everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws Exception {
        ServerSettings settings = TestServer.settings(out).build();
        GenerationService service = TestServer.plainService(settings);
        try (MontageServer server = MontageServer.start(settings, service, TinyModel.registry(),
                new ServedModel(ModelPaths.of(TinyModel.folder()), true, "test engine"))) {
            HttpResponse<byte[]> served = Http.get(server, "/openapi.json");
            assertEquals(200, served.statusCode());
            JsonNode doc = Http.JSON.readTree(served.body());
            assertTrue(doc.get("openapi").asText().startsWith("3."), "an OpenAPI 3 document");

            Set<String> documented = new TreeSet<>();
            for (Iterator<Map.Entry<String, JsonNode>> paths = doc.get("paths").fields(); paths.hasNext(); ) {
                Map.Entry<String, JsonNode> path = paths.next();
                for (Iterator<String> keys = path.getValue().fieldNames(); keys.hasNext(); ) {
                    String key = keys.next();
                    if (METHODS.contains(key)) {
                        documented.add(key.toUpperCase(Locale.ROOT) + " " + path.getKey());
                        checkOperation(path.getKey(), path.getValue(), path.getValue().get(key));
                    }
                }
            }
            Set<String> routes = new TreeSet<>();
            server.routes().forEach(r -> routes.add(r.method() + " " + r.path()));
            assertEquals(routes, documented);
        }
    }

    @Test
    void theServedDocumentIsValidOpenApi303WithTheServedDefaults() throws Exception {
        ServerSettings settings = TestServer.settings(out).build();
        GenerationRequest defaults = GenerationRequest.builder("").size(256, 192).steps(20).guidanceScale(5).imageScale(0.5)
                .numImages(2).negativePrompt("blurry").build();
        try (MontageServer server = MontageServer.start(settings, TestServer.plainService(settings),
                TinyModel.registry(), new ServedModel(ModelPaths.of(TinyModel.folder()), true, "test engine",
                        defaults))) {
            String served = new String(Http.get(server, "/openapi.json").body(), StandardCharsets.UTF_8);
            // full validation: references resolved and checked, and the validator's findings all reported
            ParseOptions options = new ParseOptions();
            options.setResolve(true);
            options.setResolveFully(true);
            options.setValidateInternalRefs(true);
            SwaggerParseResult parsed = new OpenAPIV3Parser().readContents(served, null, options);
            assertEquals(List.of(), parsed.getMessages(), "the validator's findings");
            assertEquals("3.0.3", parsed.getOpenAPI().getOpenapi());
            // swagger-parser reads a numeric bound (OpenAPI 3.1's form) without a finding; 3.0 takes booleans only
            List<String> bounds = new ArrayList<>();
            collectExclusiveBounds(Http.JSON.readTree(served), "", bounds);
            assertEquals(List.of(), bounds.stream().filter(b -> !b.endsWith("=true") && !b.endsWith("=false"))
                    .toList(), "exclusiveMinimum and exclusiveMaximum are booleans in OpenAPI 3.0");

            JsonNode fields = Http.JSON.readTree(served).at("/components/schemas/GenerationRequest/properties");
            Map<String, Object> expected = Map.of("width", 256, "height", 192, "steps", 20, "guidance", 5.0,
                    "scale", 0.5, "count", 2, "negativePrompt", "blurry", "scheduler",
                    TinyModel.pipeline().defaultSchedulerId());
            expected.forEach((field, value) -> assertEquals(Http.JSON.valueToTree(value), fields.get(field)
                    .get("default"), field));
        }
    }

    /** Responses are there, and the path's {parameters} are exactly the declared path parameters. */
    private static void checkOperation(String path, JsonNode pathItem, JsonNode operation) {
        String where = path + " " + operation.path("operationId").asText();
        assertTrue(operation.has("operationId"), where + " has an operationId");
        assertTrue(operation.has("responses") && operation.get("responses").size() > 0, where + " has responses");
        Set<String> inTemplate = new TreeSet<>();
        Matcher m = PATH_PARAMETER.matcher(path);
        while (m.find()) {
            inTemplate.add(m.group(1));
        }
        Set<String> declared = new TreeSet<>();
        for (JsonNode list : new JsonNode[] {pathItem.get("parameters"), operation.get("parameters")}) {
            if (list != null) {
                list.forEach(p -> {
                    if (p.get("in").asText().equals("path")) {
                        declared.add(p.get("name").asText());
                    }
                });
            }
        }
        assertEquals(inTemplate, declared, where + " path parameters");
    }

    @Test
    void everyReferenceResolves() throws Exception {
        JsonNode doc;
        try (var in = MontageServer.class.getResourceAsStream("openapi.json")) {
            doc = Http.JSON.readTree(in);
        }
        List<String> refs = new ArrayList<>();
        collectRefs(doc, refs);
        assertFalse(refs.isEmpty());
        for (String ref : refs) {
            assertTrue(ref.startsWith("#/"), ref);
            assertFalse(doc.at(ref.substring(1)).isMissingNode(), "unresolved " + ref);
        }
    }

    @Test
    void requestSchemasListExactlyTheFieldsTheServerReads() throws Exception {
        JsonNode schemas;
        try (var in = MontageServer.class.getResourceAsStream("openapi.json")) {
            schemas = Http.JSON.readTree(in).get("components").get("schemas");
        }
        Set<String> preprocess = new TreeSet<>(RequestJson.CONTROL);
        preprocess.addAll(RequestJson.PREPROCESS_SIZE);
        Map<String, Set<String>> read = Map.ofEntries(Map.entry("GenerationRequest", RequestJson.TOP),
                Map.entry("Subject", RequestJson.SUBJECT), Map.entry("Control", RequestJson.CONTROL),
                Map.entry("AutoLayout", RequestJson.AUTO_LAYOUT), Map.entry("InitImage", RequestJson.INIT_IMAGE),
                Map.entry("Hires", RequestJson.HIRES), Map.entry("Variation", RequestJson.VARIATION),
                Map.entry("PerturbedAttention", RequestJson.PERTURBED_ATTENTION),
                Map.entry("SeedResize", RequestJson.SEED_RESIZE),
                Map.entry("Mask", RequestJson.MASK), Map.entry("Lora", RequestJson.LORA),
                Map.entry("PhraseRequest", RequestJson.PHRASES), Map.entry("RecordRequest", ImportedRequest.BODY),
                Map.entry("PreprocessRequest", preprocess));
        read.forEach((schema, fields) -> {
            Set<String> documented = new TreeSet<>();
            schemas.get(schema).get("properties").fieldNames().forEachRemaining(documented::add);
            assertEquals(new TreeSet<>(fields), documented, schema);
        });
    }

    private static void collectExclusiveBounds(JsonNode node, String path, List<String> bounds) {
        node.fields().forEachRemaining(e -> {
            if (e.getKey().startsWith("exclusiveM")) {
                bounds.add(path + "/" + e.getKey() + "=" + e.getValue());
            }
            collectExclusiveBounds(e.getValue(), path + "/" + e.getKey(), bounds);
        });
    }

    private static void collectRefs(JsonNode node, List<String> refs) {
        if (node.has("$ref")) {
            refs.add(node.get("$ref").asText());
        }
        node.forEach(child -> collectRefs(child, refs));
    }
}

package dev.montage.dist.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.montage.api.FieldError;
import dev.montage.api.InvalidRequestException;
import dev.montage.dist.record.GenerationRecord;
import dev.montage.dist.record.ImportedRecord;
import dev.montage.runtime.output.PngFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The answer of {@code POST /v1/records}: the generation a PNG records (its text chunks, as a browser reads them from
 * the file, or the file itself): an AUTOMATIC1111 or ComfyUI PNG's as a request this server would run, completed with
 * its defaults, and what of the PNG it does not run; a Montage PNG's record as it is.
 *
 * @param maker   {@code Montage}, {@code AUTOMATIC1111} or {@code ComfyUI}
 * @param request the request's fields as a generation records them
 * @param notes   what the request leaves out or changes, in words
 */
record ImportedRequest(String maker, Map<String, Object> request, List<String> notes) {
    /** The fields of the body. */
    static final Set<String> BODY = Set.of("chunks", "png");
    /** The maker of a PNG with Montage's record. */
    static final String MONTAGE = "Montage";
    private static final ObjectMapper JSON = new ObjectMapper();

    ImportedRequest {
        request = Collections.unmodifiableMap(new LinkedHashMap<>(request));
        notes = List.copyOf(notes);
    }

    /**
     * Reads {@code {"chunks": {keyword: text, ...}}} or {@code {"png": base64}}: a Montage record is answered as it is,
     * with a note on the pictures it names by file rather than by an upload; of another tool's, a sampler none of the
     * built-in schedulers is gives way to the server's default one, a prompt the workflow does not give is left empty,
     * a LoRA the server's folder does not have is left out, each said in a note.
     *
     * @throws InvalidRequestException naming {@code chunks} or {@code png} when they hold no record or one that cannot
     *     be read, or the request's fields that this server refuses
     */
    static ImportedRequest of(JsonNode body, RequestJson requests) throws IOException {
        if (body == null || !body.isObject()) {
            throw refused("body", "must be a JSON object {chunks} or {png}");
        }
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!BODY.contains(key)) {
                throw refused(key, "is not a known field; expected one of [chunks, png]");
            }
        }
        if (body.has("chunks") == body.has("png")) {
            throw refused("body", "must give one of chunks (a PNG's text chunks by keyword) and png (the PNG file, "
                    + "base64)");
        }
        Map<String, String> chunks = body.has("png") ? chunksOf(body.get("png")) : chunks(body.get("chunks"));
        Optional<Map<String, Object>> recorded;
        try {
            recorded = GenerationRecord.fromPng(chunks);
        } catch (IOException e) {
            throw refused(body.has("png") ? "png" : "chunks", "its Montage record (the '" + GenerationRecord.JSON_CHUNK
                    + "' chunk) is not JSON: " + e.getMessage());
        }
        if (recorded.isPresent()) {
            return montage(recorded.get());
        }
        Optional<ImportedRecord> read;
        try {
            read = ImportedRecord.of(chunks);
        } catch (IllegalArgumentException e) {
            throw refused("chunks", "the PNG's record cannot be read: " + e.getMessage());
        }
        ImportedRecord r = read.orElseThrow(() -> refused("chunks", "hold no AUTOMATIC1111 'parameters' or ComfyUI "
                + "'prompt' text"));
        ObjectNode fields = JSON.valueToTree(r.values());
        List<String> notes = new ArrayList<>();
        r.unmatchedSampler().ifPresent(sampler -> {
            fields.remove(List.of("scheduler", "schedulerOptions"));
            notes.add("its sampler " + sampler + " is none of Montage's schedulers: the server's default scheduler "
                    + "runs instead");
        });
        r.textProblems().forEach((field, problem) -> {
            if (field.equals("prompt")) {
                fields.put("prompt", "");
            }
            notes.add(problem + ": give the " + (field.equals("prompt") ? "prompt" : "negative prompt"));
        });
        if (fields.get("loras") instanceof ArrayNode loras) {
            List<String> missing = new ArrayList<>();
            for (int i = loras.size() - 1; i >= 0; i--) {
                String name = loras.get(i).path("name").asText();
                if (!requests.servesLora(name)) {
                    missing.add(0, name + " at " + loras.get(i).path("scale").asText());
                    loras.remove(i);
                }
            }
            if (!missing.isEmpty()) {
                notes.add("LoRAs this server does not have, left out: " + String.join(", ", missing));
            }
        }
        if (!r.unapplied().isEmpty()) {
            notes.add("not applied: " + String.join(", ", r.unapplied()));
        }
        r.pictureStrength().ifPresent(strength -> notes.add("it was made from a picture at strength " + strength
                + ", which the PNG does not store: start from that picture to run it so"));
        return new ImportedRequest(r.maker(), requests.parse(fields).parameters(), notes);
    }

    /** A Montage record's request fields, and how many of its pictures are named by file rather than by an upload. */
    @SuppressWarnings("unchecked")
    private static ImportedRequest montage(Map<String, Object> record) {
        Map<String, Object> request = new LinkedHashMap<>(record);
        request.remove(GenerationRecord.MONTAGE);
        List<Object> pictures = new ArrayList<>();
        for (String list : List.of("subjects", "controls")) {
            if (request.get(list) instanceof List<?> items) {
                pictures.addAll(items);
            }
        }
        Optional.ofNullable(request.get("initImage")).ifPresent(pictures::add);
        long byFile = pictures.stream().map(p -> (Map<String, Object>) p).filter(p -> !p.containsKey("uploadId")
                && !p.containsKey("keypoints")).count();
        return new ImportedRequest(MONTAGE, request, byFile == 0 ? List.of() : List.of("it names " + byFile
                + " picture(s) by file and SHA-256, not by an upload of this server: give them again"));
    }

    /** The text chunks of a base64 PNG. */
    private static Map<String, String> chunksOf(JsonNode png) {
        if (!png.isTextual()) {
            throw refused("png", "must be the PNG file in base64 (a data URL too), got " + png.getNodeType());
        }
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(RequestJson.base64Text(png.asText()));
        } catch (IllegalArgumentException e) {
            throw refused("png", "is not base64: " + e.getMessage());
        }
        try {
            return PngFiles.readParameters(new ByteArrayInputStream(bytes));
        } catch (IOException | RuntimeException e) {
            throw refused("png", "is not a PNG file that can be read");
        }
    }

    /** The chunks given by keyword, each a text. */
    private static Map<String, String> chunks(JsonNode given) {
        if (!given.isObject()) {
            throw refused("chunks", "must be an object of a PNG's text chunks by keyword, e.g. {\"parameters\": "
                    + "\"...\"}");
        }
        Map<String, String> chunks = new LinkedHashMap<>();
        for (var it = given.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw refused("chunks." + e.getKey(), "must be the chunk's text, got " + e.getValue().getNodeType());
            }
            chunks.put(e.getKey(), e.getValue().asText());
        }
        return chunks;
    }

    private static InvalidRequestException refused(String field, String message) {
        return new InvalidRequestException(List.of(new FieldError(field, message)));
    }
}

package dev.montage.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.dist.record.ModelHashes;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.regex.Pattern;

/**
 * One request of a manifest: its line (row of a Parquet manifest, from 1), its id, its JSON, and what is wrong with
 * it before any model is asked (not JSON, a bad or repeated id), if anything.
 *
 * <p>The id names the request's files ({@code ID-N.png}, {@code ID.json}): the row's {@code id}, else the first
 * 20 hex digits of the SHA-256 of its JSON, so the same row gets the same files in every run.
 */
record ManifestRow(long line, String id, String json, String problem) implements Serializable {
    /** The request field a manifest adds to the API's vocabulary. */
    static final String ID = "id";
    private static final Pattern WELL_FORMED = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Seeds stay below 2^53, as the server's, so JavaScript clients can repeat them exactly. */
    private static final long SEED_BOUND = 1L << 53;

    static ManifestRow parse(long line, String text) {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (Exception e) {
            return new ManifestRow(line, hash(text), text, "body: not JSON: " + e.getMessage().lines().findFirst()
                    .orElse(""));
        }
        if (node == null || !node.isObject()) {
            return new ManifestRow(line, hash(text), text, "body: must be a JSON object");
        }
        String compact = node.toString();
        JsonNode given = node.get(ID);
        if (given == null || given.isNull()) {
            return new ManifestRow(line, hash(compact), compact, null);
        }
        if (!given.isTextual() || !WELL_FORMED.matcher(given.asText()).matches()) {
            return new ManifestRow(line, hash(compact), compact, "id: must be 1 to 128 letters, digits, '.', '_' "
                    + "or '-', not starting with '.', '_' or '-' (it names the files), got " + given);
        }
        return new ManifestRow(line, given.asText(), compact, null);
    }

    ManifestRow withProblem(String problem) {
        return new ManifestRow(line, id, json, problem);
    }

    /** The seed of a request that gives none: drawn from its id, so a run again makes the same pixels. */
    static long seed(String id) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(("seed:" + id)
                    .getBytes(StandardCharsets.UTF_8));
            return Math.floorMod(ByteBuffer.wrap(digest).getLong(), SEED_BOUND);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    private static String hash(String text) {
        return ModelHashes.sha256(text.getBytes(StandardCharsets.UTF_8)).substring(0, 20);
    }
}

package dev.montage.plugins.clip;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Reads the files of a transformers tokenizer folder; every failure names the offending file. */
final class TokenizerFiles {

    static final String VOCAB = "vocab.json";
    static final String MERGES = "merges.txt";
    static final String CONFIG = "tokenizer_config.json";
    static final String SPECIAL_TOKENS_MAP = "special_tokens_map.json";

    /**
     * CLIP's reference reads at most this many merges ({@code [1 : 49152 - 256 - 2 + 1]} of the lines): the vocabulary
     * has room for exactly the 256 byte symbols, their 256 end-of-word forms, these merges and the two sentinels.
     */
    private static final int MAX_MERGES = 49152 - 256 - 2;

    private static final ObjectMapper JSON = new ObjectMapper();

    private TokenizerFiles() {
    }

    /** {@code vocab.json}: a JSON object mapping each BPE token to its integer id. */
    static Map<String, Integer> readVocab(Path folder) throws IOException {
        Path file = folder.resolve(VOCAB);
        JsonNode root = readJson(file).orElseThrow(() -> missing(file));
        if (!root.isObject() || root.isEmpty()) {
            throw new IOException(file + ": malformed vocabulary, expected a non-empty JSON object of token -> id");
        }
        Map<String, Integer> vocab = new HashMap<>(root.size() * 2);
        for (Map.Entry<String, JsonNode> entry : root.properties()) {
            if (!entry.getValue().canConvertToInt() || !entry.getValue().isIntegralNumber()) {
                throw new IOException(file + ": malformed vocabulary, the id of token '" + entry.getKey()
                        + "' is not an integer: " + entry.getValue());
            }
            vocab.put(entry.getKey(), entry.getValue().intValue());
        }
        return Map.copyOf(vocab);
    }

    /**
     * {@code merges.txt}: a {@code #version} header, then one merge per line ({@code "left right"}), best first.
     * Returns each merge, keyed as its two symbols joined by one space, with its rank.
     */
    static Map<String, Integer> readMerges(Path folder) throws IOException {
        Path file = folder.resolve(MERGES);
        List<String> lines = readText(file).strip().lines().toList();
        if (lines.isEmpty() || !lines.get(0).startsWith("#version")) {
            throw new IOException(file + ": malformed merges, the first line must be the '#version' header");
        }
        int count = Math.min(lines.size() - 1, MAX_MERGES);
        Map<String, Integer> ranks = new HashMap<>(count * 2);
        for (int rank = 0; rank < count; rank++) {
            String[] pair = lines.get(rank + 1).strip().split("\\s+");
            if (pair.length != 2) {
                throw new IOException(file + ": malformed merges, line " + (rank + 2)
                        + " is not two space-separated symbols: '" + lines.get(rank + 1) + "'");
            }
            // a repeated merge keeps its last rank, as the reference's dict(zip(merges, ranks)) does
            ranks.put(pair[0] + ' ' + pair[1], rank);
        }
        return Map.copyOf(ranks);
    }

    /** A JSON file that may be absent (tokenizer configuration files are optional). */
    static Optional<JsonNode> readJson(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readTree(readText(file)));
        } catch (JacksonException e) {
            throw new IOException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static String readText(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw missing(file);
        }
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new IOException(file + ": not UTF-8 text", e);
        }
    }

    private static NoSuchFileException missing(Path file) {
        return new NoSuchFileException(file.toString(), null, "required tokenizer file is missing");
    }
}

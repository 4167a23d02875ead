package dev.montage.plugins.clip;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * CLIP's byte-level BPE for one pre-tokenized piece: UTF-8 bytes become printable symbols (GPT-2's
 * {@code bytes_to_unicode}), the last symbol carries the end-of-word marker {@code </w>}, then the best-ranked
 * adjacent pair is merged everywhere until no ranked pair is left. Thread-safe.
 */
final class BytePairEncoder {

    static final String END_OF_WORD = "</w>";

    /**
     * The reference seeds its BPE cache with the two sentinels, so a piece spelling one of them (after lower-casing,
     * e.g. from {@code <|ENDOFTEXT|>}) comes out unchanged, without {@code </w>}, and maps to the sentinel id.
     */
    private static final Set<String> SENTINELS = Set.of("<|startoftext|>", "<|endoftext|>");

    /** Prompts repeat words a lot; the cap only keeps adversarial input from growing the cache without bound. */
    private static final int CACHE_LIMIT = 20_000;

    private static final char[] BYTE_SYMBOLS = byteSymbols();

    private final Map<String, Integer> ranks;
    private final Map<String, List<String>> cache = new ConcurrentHashMap<>();

    /** @param ranks merge rank by pair, the two symbols joined by one space (symbols never contain a space) */
    BytePairEncoder(Map<String, Integer> ranks) {
        this.ranks = ranks;
    }

    /** The BPE symbols of one piece of text. */
    List<String> encode(String piece) {
        byte[] utf8 = piece.getBytes(StandardCharsets.UTF_8);
        char[] symbols = new char[utf8.length];
        for (int i = 0; i < utf8.length; i++) {
            symbols[i] = BYTE_SYMBOLS[utf8[i] & 0xFF];
        }
        String word = new String(symbols);
        if (SENTINELS.contains(word)) {
            return List.of(word);
        }
        List<String> cached = cache.get(word);
        if (cached != null) {
            return cached;
        }
        List<String> merged = List.copyOf(merge(word));
        if (cache.size() < CACHE_LIMIT) {
            cache.putIfAbsent(word, merged);
        }
        return merged;
    }

    private List<String> merge(String word) {
        List<String> parts = new ArrayList<>(word.length());
        for (int i = 0; i < word.length() - 1; i++) {
            parts.add(String.valueOf(word.charAt(i)));
        }
        parts.add(word.charAt(word.length() - 1) + END_OF_WORD);
        while (parts.size() > 1) {
            int best = -1;
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < parts.size(); i++) {
                Integer rank = ranks.get(parts.get(i) + ' ' + parts.get(i + 1));
                if (rank != null && rank < bestRank) {
                    best = i;
                    bestRank = rank;
                }
            }
            if (best < 0) {
                break;
            }
            parts = mergeAll(parts, parts.get(best), parts.get(best + 1));
        }
        return parts;
    }

    /** Replaces every non-overlapping occurrence of the pair, scanning left to right. */
    private static List<String> mergeAll(List<String> parts, String first, String second) {
        List<String> out = new ArrayList<>(parts.size());
        int i = 0;
        while (i < parts.size()) {
            if (i + 1 < parts.size() && parts.get(i).equals(first) && parts.get(i + 1).equals(second)) {
                out.add(first + second);
                i += 2;
            } else {
                out.add(parts.get(i));
                i++;
            }
        }
        return out;
    }

    /**
     * GPT-2's {@code bytes_to_unicode}: printable Latin-1 bytes stand for themselves, the other 68 (controls, space,
     * NBSP, soft hyphen) get U+0100 onwards in byte order, so no symbol is whitespace or a control character.
     */
    /** The symbol standing for a byte in vocabularies and merges. */
    static char byteSymbol(int b) {
        return BYTE_SYMBOLS[b & 0xFF];
    }

    private static char[] byteSymbols() {
        char[] table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = (char) (printable ? b : next++);
        }
        return table;
    }
}

package dev.montage.plugins.clip;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
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

    /** Prompts repeat words a lot; the caps only keep adversarial input from growing the cache without bound. */
    private static final int CACHE_LIMIT = 20_000;
    private static final int CACHED_WORD_LIMIT = 100;

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
        if (cache.size() < CACHE_LIMIT && word.length() <= CACHED_WORD_LIMIT) {
            cache.putIfAbsent(word, merged);
        }
        return merged;
    }

    /**
     * The reference's loop (merge every occurrence of the best-ranked pair, left to right, until no pair is ranked)
     * in O(n log n) rather than O(n) per merged pair, which made long words quadratic: the symbols form a linked list,
     * every ranked adjacent pair waits in a queue by (rank, position), and all occurrences of the best pair, which
     * share its rank, are merged in one round in position order before the pairs they create are queued.
     */
    private List<String> merge(String word) {
        int n = word.length();
        String[] symbols = new String[n];
        int[] next = new int[n];
        int[] previous = new int[n];
        for (int i = 0; i < n; i++) {
            symbols[i] = i == n - 1 ? word.charAt(i) + END_OF_WORD : String.valueOf(word.charAt(i));
            next[i] = i + 1 < n ? i + 1 : -1;
            previous[i] = i - 1;
        }
        PriorityQueue<long[]> pairs = new PriorityQueue<>((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0])
                : Long.compare(a[1], b[1]));
        for (int i = 0; i + 1 < n; i++) {
            queue(pairs, symbols, next, i);
        }
        List<Integer> round = new ArrayList<>();
        List<Integer> merged = new ArrayList<>();
        while (!pairs.isEmpty()) {
            long rank = pairs.peek()[0];
            round.clear();
            while (!pairs.isEmpty() && pairs.peek()[0] == rank) {
                round.add((int) pairs.poll()[1]);
            }
            merged.clear();
            for (int left : round) {
                // an entry is stale when a merge took one of its symbols since it was queued
                if (symbols[left] == null || rank(symbols, next, left) != rank) {
                    continue;
                }
                int right = next[left];
                symbols[left] = symbols[left] + symbols[right];
                symbols[right] = null;
                next[left] = next[right];
                if (next[right] >= 0) {
                    previous[next[right]] = left;
                }
                merged.add(left);
            }
            for (int left : merged) {
                if (symbols[left] != null) {
                    if (previous[left] >= 0) {
                        queue(pairs, symbols, next, previous[left]);
                    }
                    queue(pairs, symbols, next, left);
                }
            }
        }
        List<String> parts = new ArrayList<>();
        for (int i = 0; i >= 0; i = next[i]) {
            parts.add(symbols[i]);
        }
        return parts;
    }

    /** Queues the pair starting at symbol {@code left} when it is ranked. */
    private void queue(PriorityQueue<long[]> pairs, String[] symbols, int[] next, int left) {
        long rank = rank(symbols, next, left);
        if (rank >= 0) {
            pairs.add(new long[] {rank, left});
        }
    }

    /** The rank of the pair starting at symbol {@code left}, or -1 when it is not ranked or has no right symbol. */
    private long rank(String[] symbols, int[] next, int left) {
        if (next[left] < 0) {
            return -1;
        }
        Integer rank = ranks.get(symbols[left] + ' ' + symbols[next[left]]);
        return rank == null ? -1 : rank;
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

package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link BytePairEncoder} against the reference's merge loop, and bounded on long words. */
class BytePairEncoderTest {

    /** CLIP's {@code bpe}: merge every occurrence of the best-ranked pair, left to right, until none is ranked. */
    private static List<String> reference(Map<String, Integer> ranks, String word) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < word.length() - 1; i++) {
            parts.add(String.valueOf(word.charAt(i)));
        }
        parts.add(word.charAt(word.length() - 1) + BytePairEncoder.END_OF_WORD);
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
            String first = parts.get(best);
            String second = parts.get(best + 1);
            List<String> merged = new ArrayList<>();
            for (int i = 0; i < parts.size(); i++) {
                if (i + 1 < parts.size() && parts.get(i).equals(first) && parts.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i++;
                } else {
                    merged.add(parts.get(i));
                }
            }
            parts = merged;
        }
        return parts;
    }

    private static String word(Random random, int length, String alphabet) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < length; i++) {
            b.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return b.toString();
    }

    @Test
    void mergesLikeTheReferenceOnRandomWordsAndRandomRanks() {
        // a three-letter alphabet makes repeats, overlapping pairs (a a a) and merges of merges frequent; the ranks
        // need not be consistent (a merge may rank before the merges that make its parts)
        Random random = new Random(42);
        for (int table = 0; table < 200; table++) {
            List<String> symbols = new ArrayList<>(List.of("a", "b", "c", "a</w>", "b</w>", "c</w>"));
            Map<String, Integer> ranks = new HashMap<>();
            for (int k = 0; k < 30; k++) {
                String first = symbols.get(random.nextInt(symbols.size()));
                String second = symbols.get(random.nextInt(symbols.size()));
                if (first.endsWith("</w>") || ranks.containsKey(first + ' ' + second)) {
                    continue;
                }
                ranks.put(first + ' ' + second, random.nextInt(1000));
                symbols.add(first + second);
            }
            BytePairEncoder bpe = new BytePairEncoder(ranks);
            for (int w = 0; w < 20; w++) {
                String word = word(random, 1 + random.nextInt(40), "abc");
                assertEquals(reference(ranks, word), bpe.encode(word), "table " + table + ", word " + word);
            }
        }
    }

    @Test
    void mergesLikeTheReferenceWithClipsMerges() throws Exception {
        GoldenFixtures.assumePresent();
        Map<String, Integer> ranks = TokenizerFiles.readMerges(GoldenFixtures.tokenizerFolder("tokenizer"));
        BytePairEncoder bpe = new BytePairEncoder(ranks);
        Random random = new Random(7);
        for (int w = 0; w < 2000; w++) {
            String word = word(random, 1 + random.nextInt(w % 100 == 0 ? 2000 : 30), "abcdefghijklmnopqrstuvwxyz");
            assertEquals(reference(ranks, word), bpe.encode(word), word);
        }
    }

    @Test
    void aHundredThousandLetterWordTakesBoundedTime() throws Exception {
        GoldenFixtures.assumePresent();
        BytePairEncoder bpe = new BytePairEncoder(TokenizerFiles.readMerges(
                GoldenFixtures.tokenizerFolder("tokenizer")));
        String word = word(new Random(3), 100_000, "abcdefghijklmnopqrstuvwxyz");
        // the reference's loop, O(length) per merged pair, took minutes on such a word
        List<String> parts = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> bpe.encode(word));
        assertEquals(word + BytePairEncoder.END_OF_WORD, String.join("", parts));
    }
}

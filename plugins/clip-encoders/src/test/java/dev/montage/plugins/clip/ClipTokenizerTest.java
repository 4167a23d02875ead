package dev.montage.plugins.clip;

import static dev.montage.plugins.clip.TinyTokenizerFolder.BOS;
import static dev.montage.plugins.clip.TinyTokenizerFolder.EOS;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ClipTokenizer} on a tiny hand-made vocabulary: no golden folder needed. */
class ClipTokenizerTest {

    private static final String BANG_PAD = "{\"pad_token\": \"!\"}";

    @TempDir
    Path folder;

    @Test
    void defaultsAreClipsWhenTheFolderHasNoConfiguration() throws IOException {
        ClipTokenizer tokenizer = TinyTokenizerFolder.load(folder, null);
        int[] expected = new int[77];
        Arrays.fill(expected, EOS);
        expected[0] = BOS;
        expected[1] = 9;
        assertAll(
                () -> assertEquals(BOS, tokenizer.bosId()),
                () -> assertEquals(EOS, tokenizer.eosId()),
                () -> assertEquals(EOS, tokenizer.padId()),
                () -> assertEquals(77, tokenizer.maxLength()),
                () -> assertArrayEquals(expected, tokenizer.encode("abc")));
    }

    @Test
    void mergesApplyByRankAndRespectTheEndOfWordSymbol() throws IOException {
        ClipTokenizer tokenizer = TinyTokenizerFolder.load(folder, null);
        assertAll(
                () -> assertEquals(List.of("abc</w>"), tokenizer.tokens("abc")),
                // "b</w>" is not "b", so the merge "a b" does not apply at the end of a word
                () -> assertEquals(List.of("a", "b</w>"), tokenizer.tokens("ab")),
                () -> assertEquals(List.of("ab", "c", "c</w>"), tokenizer.tokens("abcc")),
                () -> assertArrayEquals(new int[] {BOS, 3, 1, 6, EOS}, tokenizer.encodeUntruncated("cab")));
    }

    @Test
    void textIsCleanedLowerCasedAndSplitIntoPieces() throws IOException {
        ClipTokenizer tokenizer = TinyTokenizerFolder.load(folder, null);
        assertAll(
                // NBSP and tab separate words; the zero-width space vanishes and joins its neighbours
                () -> assertEquals(List.of("abc</w>", "ab", "c", "c</w>", "c</w>"),
                        tokenizer.tokens("  ABC\u00a0ab\u200bcc\tc ")),
                // letters, punctuation runs and single digits are separate pieces, each with its own </w>
                () -> assertEquals(List.of("c</w>", ",</w>", "d</w>", "-</w>", "a</w>"), tokenizer.tokens("c,d-a")),
                () -> assertEquals(List.of(), tokenizer.tokens(" \t\n")));
    }

    @Test
    void symbolsMissingFromTheVocabularyBecomeTheUnknownToken() throws IOException {
        ClipTokenizer tokenizer = TinyTokenizerFolder.load(folder, null);
        // "é" is the two byte symbols "Ã" and "©</w>", neither in this vocabulary; unk is <|endoftext|>
        assertArrayEquals(new int[] {BOS, EOS, EOS, 5, EOS}, tokenizer.encodeUntruncated("é a"));
    }

    @Test
    void sentinelsInTheTextAreRecognisedEvenWhenUpperCase() throws IOException {
        ClipTokenizer tokenizer = TinyTokenizerFolder.load(folder, null);
        assertAll(
                () -> assertArrayEquals(new int[] {BOS, 5, EOS, 6, EOS},
                        tokenizer.encodeUntruncated("a<|endoftext|>b")),
                () -> assertArrayEquals(new int[] {BOS, 5, BOS, 6, EOS},
                        tokenizer.encodeUntruncated("a <|startoftext|> b")),
                // not an added token (case differs), but lower-cased before CLIP's regex, which knows the sentinel
                () -> assertArrayEquals(new int[] {BOS, 5, EOS, EOS}, tokenizer.encodeUntruncated("a <|ENDOFTEXT|>")));
    }

    @Test
    void aPadTokenOfTheConfigurationIsSplitOutOfTheText() throws IOException {
        ClipTokenizer plain = TinyTokenizerFolder.load(Files.createDirectory(folder.resolve("plain")), null);
        ClipTokenizer bang = TinyTokenizerFolder.load(Files.createDirectory(folder.resolve("bang")), BANG_PAD);
        assertAll(
                () -> assertEquals(List.of("a</w>", "!</w>", "b</w>"), plain.tokens("a!b")),
                () -> assertEquals(List.of("a</w>", "!", "b</w>"), bang.tokens("a!b")),
                () -> assertEquals(List.of("a</w>", "!", "!"), bang.tokens("a!!")),
                () -> assertEquals(0, bang.padId()),
                () -> assertArrayEquals(new int[] {BOS, 5, 0, 0, EOS}, bang.encodeUntruncated("a!!")));
    }

    @Test
    void specialTokensMapWinsOverTheConfig() throws IOException {
        TinyTokenizerFolder.write(folder, "{\"pad_token\": \"<|endoftext|>\"}");
        Files.writeString(folder.resolve("special_tokens_map.json"), "{\"pad_token\": {\"content\": \"!\"}}");
        assertEquals(0, ClipTokenizer.load(folder).padId());
    }

    @Test
    void addedTokensDecoderDeclaresIdsAndTheLongestTokenWins() throws IOException {
        ClipTokenizer tokenizer = TinyTokenizerFolder.load(folder, """
                {"added_tokens_decoder": {
                    "42": {"content": "zz", "lstrip": false, "rstrip": false, "special": false},
                    "43": {"content": "zzz", "lstrip": false, "rstrip": false, "special": true}}}
                """);
        assertAll(
                () -> assertArrayEquals(new int[] {BOS, 5, 42, 6, EOS}, tokenizer.encodeUntruncated("azzb")),
                () -> assertArrayEquals(new int[] {BOS, 43, 42, EOS}, tokenizer.encodeUntruncated("zzzzz")));
    }

    @Test
    void encodeTruncatesToTheModelLengthAndPads() throws IOException {
        ClipTokenizer tokenizer = TinyTokenizerFolder.load(folder, "{\"model_max_length\": 6, \"pad_token\": \"!\"}");
        assertAll(
                () -> assertArrayEquals(new int[] {BOS, 5, 6, 7, 16, EOS}, tokenizer.encode("a b c d a b")),
                () -> assertArrayEquals(new int[] {BOS, 5, 6, 7, 16, 5, 6, EOS},
                        tokenizer.encodeUntruncated("a b c d a b")),
                () -> assertArrayEquals(new int[] {BOS, 9, EOS, 0, 0, 0}, tokenizer.encode("abc")));
    }

    @Test
    void lowerCasingFollowsTheConfiguration() throws IOException {
        ClipTokenizer tokenizer = TinyTokenizerFolder.load(folder, "{\"do_lower_case\": false}");
        assertEquals(List.of("A</w>", "b</w>"), tokenizer.tokens("A b"));
    }

    @Test
    void concurrentEncodingGivesTheSameIdsAsSequentialEncoding() throws Exception {
        List<String> prompts = randomPrompts(2_000);
        ClipTokenizer reference = TinyTokenizerFolder.load(Files.createDirectory(folder.resolve("reference")), null);
        List<int[]> expected = prompts.stream().map(reference::encodeUntruncated).toList();
        ClipTokenizer shared = TinyTokenizerFolder.load(Files.createDirectory(folder.resolve("shared")), null);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int thread = 0; thread < 8; thread++) {
                List<Integer> order = new ArrayList<>(IntStream.range(0, prompts.size()).boxed().toList());
                Collections.shuffle(order, new Random(thread));
                results.add(pool.submit(() -> order.stream().allMatch(
                        i -> Arrays.equals(expected.get(i), shared.encodeUntruncated(prompts.get(i))))));
            }
            for (Future<Boolean> result : results) {
                assertTrue(result.get(), "a thread saw different ids");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void missingVocabularyOrMergesAreNamed() throws IOException {
        TinyTokenizerFolder.write(folder, null);
        Files.delete(folder.resolve("merges.txt"));
        NoSuchFileException noMerges = assertThrows(NoSuchFileException.class, () -> ClipTokenizer.load(folder));
        assertTrue(noMerges.getMessage().contains(folder.resolve("merges.txt").toString()), noMerges.getMessage());
        Files.delete(folder.resolve("vocab.json"));
        NoSuchFileException noVocab = assertThrows(NoSuchFileException.class, () -> ClipTokenizer.load(folder));
        assertTrue(noVocab.getMessage().contains("vocab.json"), noVocab.getMessage());
    }

    @Test
    void malformedVocabularyIsNamed() throws IOException {
        TinyTokenizerFolder.write(folder, null);
        for (String vocab : List.of("{\"a\": 1,", "[\"a\", \"b\"]", "{\"a\": \"one\"}", "{\"a\": 1.5}")) {
            Files.writeString(folder.resolve("vocab.json"), vocab);
            IOException error = assertThrows(IOException.class, () -> ClipTokenizer.load(folder), vocab);
            assertTrue(error.getMessage().startsWith(folder.resolve("vocab.json").toString()), error.getMessage());
        }
    }

    @Test
    void malformedMergesAreNamedWithTheLine() throws IOException {
        TinyTokenizerFolder.write(folder, null);
        Files.writeString(folder.resolve("merges.txt"), "#version: 0.2\na b\nab c </w>\n");
        IOException badLine = assertThrows(IOException.class, () -> ClipTokenizer.load(folder));
        assertTrue(badLine.getMessage().startsWith(folder.resolve("merges.txt").toString()), badLine.getMessage());
        assertTrue(badLine.getMessage().contains("line 3"), badLine.getMessage());
        Files.writeString(folder.resolve("merges.txt"), "a b\n");
        IOException noHeader = assertThrows(IOException.class, () -> ClipTokenizer.load(folder));
        assertTrue(noHeader.getMessage().contains("#version"), noHeader.getMessage());
    }

    @Test
    void badConfigurationsAreNamed() throws IOException {
        TinyTokenizerFolder.write(folder, null);
        Path config = folder.resolve("tokenizer_config.json");
        for (String text : List.of("{", "{\"pad_token\": \"<pad>\"}", "{\"model_max_length\": \"77\"}",
                "{\"pad_token\": {\"content\": \"!\", \"single_word\": true}}")) {
            Files.writeString(config, text);
            IOException error = assertThrows(IOException.class, () -> ClipTokenizer.load(folder), text);
            assertTrue(error.getMessage().contains(".json"), error.getMessage());
        }
    }

    /** Words over a, b, c, d with punctuation, so that many distinct words pass through the BPE cache. */
    private static List<String> randomPrompts(int count) {
        Random random = new Random(7);
        String alphabet = "abcd";
        List<String> prompts = new ArrayList<>(count);
        for (int p = 0; p < count; p++) {
            StringBuilder prompt = new StringBuilder();
            for (int w = 0; w < 1 + random.nextInt(8); w++) {
                for (int c = 0; c < 1 + random.nextInt(7); c++) {
                    prompt.append(alphabet.charAt(random.nextInt(alphabet.length())));
                }
                prompt.append(random.nextInt(5) == 0 ? ", " : " ");
            }
            prompts.add(prompt.toString());
        }
        return prompts;
    }
}

package dev.montage.plugins.clip;

import static dev.montage.plugins.clip.GoldenFixtures.ints;
import static dev.montage.plugins.clip.GoldenFixtures.strings;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Both SDXL tokenizers against transformers 4.35's slow CLIPTokenizer on the 30 prompts of the tokenizer case. */
class ClipTokenizerGoldenTest {

    private ClipTokenizer first;
    private ClipTokenizer second;

    @BeforeEach
    void loadTokenizers() {
        GoldenFixtures.assumePresent();
        first = GoldenFixtures.tokenizer("tokenizer");
        second = GoldenFixtures.tokenizer("tokenizer_2");
    }

    static Stream<Named<JsonNode>> entries() {
        GoldenFixtures.assumePresent();
        return StreamSupport.stream(GoldenFixtures.tokenizerCase().get("entries").spliterator(), false)
                .map(entry -> Named.of(GoldenFixtures.displayName(entry.get("prompt").textValue()), entry));
    }

    @Test
    void configurationsGiveSdxlSentinelsAndPadding() {
        assertAll(
                () -> assertEquals(49406, first.bosId()),
                () -> assertEquals(49407, first.eosId()),
                () -> assertEquals(49407, first.padId()),
                () -> assertEquals(77, first.maxLength()),
                () -> assertEquals(49406, second.bosId()),
                () -> assertEquals(49407, second.eosId()),
                () -> assertEquals(0, second.padId()),
                () -> assertEquals(77, second.maxLength()));
    }

    @Test
    void fixtureHoldsThirtyPrompts() {
        assertEquals(30, GoldenFixtures.tokenizerCase().get("entries").size());
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("entries")
    void firstTokenizerMatchesReference(JsonNode entry) {
        assertMatches(first, entry, "1");
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("entries")
    void secondTokenizerMatchesReference(JsonNode entry) {
        assertMatches(second, entry, "2");
    }

    @Test
    void longPromptsAreCutAfterTheTokensTheModelReads() {
        // encode tokenizes only as many words as fill the model input: the kept ids must be the untruncated ones
        Random random = new Random(5);
        String[] words = {"a", "photo", "of", "dog,", "cat!", "beach", "sunset", "<|endoftext|>", "über", "42", "!!"};
        for (int p = 0; p < 50; p++) {
            StringBuilder prompt = new StringBuilder();
            for (int w = 0, n = 40 + random.nextInt(80); w < n; w++) {
                prompt.append(words[random.nextInt(words.length)]).append(random.nextBoolean() ? " " : "");
            }
            for (ClipTokenizer tokenizer : List.of(first, second)) {
                int[] all = tokenizer.encodeUntruncated(prompt.toString());
                int[] ids = tokenizer.encode(prompt.toString());
                int kept = Math.min(all.length - 2, 75);
                assertArrayEquals(Arrays.copyOfRange(all, 0, kept + 1), Arrays.copyOfRange(ids, 0, kept + 1),
                        prompt.toString());
                assertEquals(tokenizer.eosId(), ids[kept + 1], prompt.toString());
            }
        }
    }

    private static void assertMatches(ClipTokenizer tokenizer, JsonNode entry, String suffix) {
        String prompt = entry.get("prompt").textValue();
        assertAll(
                () -> assertEquals(strings(entry.get("tokens_" + suffix)), tokenizer.tokens(prompt), "tokens"),
                () -> assertArrayEquals(ints(entry.get("untruncated_ids_" + suffix)),
                        tokenizer.encodeUntruncated(prompt), "untruncated ids"),
                () -> assertArrayEquals(ints(entry.get("input_ids_" + suffix)), tokenizer.encode(prompt),
                        "input ids"));
    }
}

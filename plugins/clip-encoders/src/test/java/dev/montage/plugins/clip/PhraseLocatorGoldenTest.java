package dev.montage.plugins.clip;

import static dev.montage.plugins.clip.GoldenFixtures.ints;
import static dev.montage.plugins.clip.GoldenFixtures.strings;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link PhraseLocator} against the official get_phrase_idx / get_eot_idx on the tokenizer case's examples. */
class PhraseLocatorGoldenTest {

    private ClipTokenizer tokenizer;
    private PhraseLocator locator;

    @BeforeEach
    void loadTokenizer() {
        GoldenFixtures.assumePresent();
        // the official inference code passes pipe.tokenizer, SDXL's first tokenizer
        tokenizer = GoldenFixtures.tokenizer("tokenizer");
        locator = new PhraseLocator(tokenizer);
    }

    static Stream<Named<JsonNode>> examples() {
        GoldenFixtures.assumePresent();
        return StreamSupport.stream(GoldenFixtures.tokenizerCase().get("phrase_idx_examples").spliterator(), false)
                .map(example -> Named.of(GoldenFixtures.displayName(example.get("prompt").textValue())
                        + " " + example.get("phrases"), example));
    }

    @Test
    void fixtureHoldsTenExamples() {
        assertEquals(10, GoldenFixtures.tokenizerCase().get("phrase_idx_examples").size());
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("examples")
    void spansAndEndOfTextMatchReference(JsonNode example) {
        String prompt = example.get("prompt").textValue();
        List<String> phrases = strings(example.get("phrases"));
        List<PhraseSpan> all = locator.locateAll(prompt, phrases);
        List<Executable> checks = new ArrayList<>();
        checks.add(() -> assertEquals(example.get("eot_idx").intValue(), locator.eotIndex(prompt), "eot_idx"));
        for (int i = 0; i < phrases.size(); i++) {
            String phrase = phrases.get(i);
            JsonNode expected = example.get("phrase_idxes").get(i);
            JsonNode raw = example.get("get_phrase_idx_raw").get(i);
            PhraseSpan span = all.get(i);
            PhraseSpan first = locator.locate(prompt, phrase);
            checks.add(() -> assertArrayEquals(ints(expected), new int[] {span.start(), span.end()},
                    "phrase_idxes of " + phrase));
            checks.add(() -> assertArrayEquals(ints(raw.get(0)), new int[] {first.start(), first.end()},
                    "raw span of " + phrase));
            checks.add(() -> assertEquals(raw.get(1).isNull() ? List.of() : strings(raw.get(1)), first.words(),
                    "raw words of " + phrase));
        }
        for (Map.Entry<String, JsonNode> word : example.get("word_encodings").properties()) {
            checks.add(() -> assertArrayEquals(ints(word.getValue()), tokenizer.encodeUntruncated(word.getKey()),
                    "encoding of word " + word.getKey()));
        }
        assertAll(checks.stream());
    }
}

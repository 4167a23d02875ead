package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PhraseLocator}'s rules on the tiny vocabulary, where "ab" is 2 tokens, "abc", "c" and "d" are 1, "d," and
 * "d!" are 2 and "c-d" is 3.
 */
class PhraseLocatorTest {

    @TempDir
    Path folder;

    private PhraseLocator locator;

    @BeforeEach
    void createLocator() throws IOException {
        locator = new PhraseLocator(TinyTokenizerFolder.load(folder, null));
    }

    @Test
    void endOfTextSumsTheTokensOfEachWord() {
        assertAll(
                () -> assertEquals(6, locator.eotIndex("ab c d,")),
                () -> assertEquals(1, locator.eotIndex("  ")));
    }

    @Test
    void aWordMatchesWithOneTrailingPunctuationRemoved() {
        assertAll(
                () -> assertEquals(new PhraseSpan(4, 5, List.of("d")), locator.locate("ab c d, c", "d")),
                () -> assertEquals(new PhraseSpan(4, 5, List.of("d")), locator.locate("ab c d! c", "d")),
                () -> assertEquals(PhraseSpan.NOT_FOUND, locator.locate("ab c d!! c", "d")),
                () -> assertEquals(PhraseSpan.NOT_FOUND, locator.locate("ab c D", "d")));
    }

    @Test
    void aHyphenatedWordMatchesItsTailAndTheSpanCoversTheWholeWord() {
        assertEquals(new PhraseSpan(3, 6, List.of("c-d")), locator.locate("ab c-d", "d"));
    }

    @Test
    void multiWordPhrasesKeepInnerPunctuationInTheSpan() {
        // "c," still counts its comma; only the last word is stripped before counting
        assertEquals(new PhraseSpan(3, 6, List.of("c", "d")), locator.locate("ab c, d. abc", "c d"));
    }

    @Test
    void aRepeatedPhraseIsShiftedLeftByTheSkippedMatch() {
        // the second "d" really starts at token 4, but the reference does not count the skipped first "d"
        assertEquals(List.of(new PhraseSpan(2, 3, List.of("d")), new PhraseSpan(3, 4, List.of("d"))),
                locator.locateAll("c d c d", List.of("d", "d")));
    }

    @Test
    void locateAllCountsEarlierOccurrencesOfTheSamePhraseOnly() {
        List<PhraseSpan> spans = locator.locateAll("d c d c", List.of("c", "d", "c", "abc"));
        assertAll(
                () -> assertEquals(new PhraseSpan(2, 3, List.of("c")), spans.get(0)),
                () -> assertEquals(new PhraseSpan(1, 2, List.of("d")), spans.get(1)),
                () -> assertEquals(new PhraseSpan(3, 4, List.of("c")), spans.get(2)),
                () -> assertFalse(spans.get(3).found()));
    }

    @Test
    void emptyPhrasesAndMissingMatchesAreNotFound() {
        assertAll(
                () -> assertEquals(PhraseSpan.NOT_FOUND, locator.locate("a d", "")),
                () -> assertEquals(PhraseSpan.NOT_FOUND, locator.locate("a d", "  ")),
                () -> assertEquals(PhraseSpan.NOT_FOUND, locator.locate("a d", "d", false, 1)),
                () -> assertEquals(PhraseSpan.NOT_FOUND, locator.locate("a d", "a d c")));
    }

    @Test
    void lastWordOnlyLooksForThePhrasesLastWord() {
        assertEquals(new PhraseSpan(2, 3, List.of("d")), locator.locate("a d", "abc d", true, 0));
    }

    @Test
    void negativeSkipIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> locator.locate("a d", "d", false, -1));
    }
}

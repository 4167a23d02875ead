package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The BasicTokenizer clean-up and Python's whitespace split. */
class TextNormalizerTest {

    @Test
    void whitespaceOfEveryKindBecomesSingleSpaces() {
        assertEquals("a b c d e", TextNormalizer.normalize("  a\u00a0b\tc\r\nd\u3000\u3000e  ", true));
    }

    @Test
    void controlAndFormatCharactersVanish() {
        assertEquals("zerowidth control",
                TextNormalizer.normalize("zero\u200bwidth con\u0007trol\u0000\ufffd", true));
    }

    @Test
    void cjkIdeographsAreIsolatedButKanaAndHangulAreNot() {
        assertEquals("日 本 語 のテキスト 한국어", TextNormalizer.normalize("日本語のテキスト 한국어", true));
    }

    @Test
    void textIsComposedAndLowerCasedWithAccentsKept() {
        assertAll(
                () -> assertEquals("å über", TextNormalizer.normalize("A\u030a Über", true)),
                () -> assertEquals("σίσυφος", TextNormalizer.normalize("ΣΊΣΥΦΟΣ", true)),
                () -> assertEquals("Über", TextNormalizer.normalize("Über", false)));
    }

    @Test
    void splitOnWhitespaceFollowsPython() {
        assertAll(
                () -> assertEquals(List.of("a", "b", "c", "d"),
                        TextNormalizer.splitOnWhitespace(" a\u2028b\u0085c\u001fd ")),
                // zero-width space is a format character, not whitespace, for Python
                () -> assertEquals(List.of("a\u200bb"), TextNormalizer.splitOnWhitespace("a\u200bb")),
                () -> assertEquals(List.of(), TextNormalizer.splitOnWhitespace(" \t ")));
    }
}

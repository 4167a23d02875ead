package dev.montage.plugins.clip;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * The text clean-up of transformers' slow {@code CLIPTokenizer} when ftfy is not installed: its {@code BasicTokenizer}
 * built with {@code strip_accents=False} and no punctuation splitting, plus Python's {@code str.split()}, which both
 * that clean-up and MS-Diffusion's phrase search use to cut words.
 */
final class TextNormalizer {

    private TextNormalizer() {
    }

    /**
     * Drops NUL, U+FFFD and control/format/unassigned characters, turns whitespace into spaces, isolates CJK
     * ideographs, NFC-normalises, and re-joins the whitespace-split words with single spaces, lower-cased on request.
     * Accents are kept: the reference passes {@code strip_accents=False}.
     */
    static String normalize(String text, boolean lowerCase) {
        StringBuilder cleaned = new StringBuilder(text.length() + 8);
        text.codePoints().forEach(cp -> appendCleaned(cleaned, cp));
        String composed = Normalizer.normalize(cleaned, Normalizer.Form.NFC);
        StringJoiner words = new StringJoiner(" ");
        for (String word : splitOnWhitespace(composed)) {
            // per word, as the reference does: Greek final sigma depends on the word boundary
            words.add(lowerCase ? word.toLowerCase(Locale.ROOT) : word);
        }
        return words.toString();
    }

    /** Python's {@code str.split()} without arguments: runs of whitespace separate, no empty words. */
    static List<String> splitOnWhitespace(String text) {
        List<String> words = new ArrayList<>();
        int start = -1;
        for (int i = 0; i < text.length(); i++) {
            if (isPythonWhitespace(text.charAt(i))) {
                if (start >= 0) {
                    words.add(text.substring(start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
        }
        if (start >= 0) {
            words.add(text.substring(start));
        }
        return words;
    }

    /** Python's {@code str.isspace()}; every such character lies in the BMP. */
    static boolean isPythonWhitespace(char c) {
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
                || c == 0x3000;
    }

    private static void appendCleaned(StringBuilder out, int cp) {
        if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
            return;
        }
        if (isBertWhitespace(cp)) {
            out.append(' ');
        } else if (isCjkIdeograph(cp)) {
            out.append(' ').appendCodePoint(cp).append(' ');
        } else {
            out.appendCodePoint(cp);
        }
    }

    /** Every category C* character except tab, CR and LF, which count as whitespace instead. */
    private static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int type = Character.getType(cp);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.SURROGATE
                || type == Character.PRIVATE_USE || type == Character.UNASSIGNED;
    }

    private static boolean isBertWhitespace(int cp) {
        return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r'
                || Character.getType(cp) == Character.SPACE_SEPARATOR;
    }

    /** BERT's "Chinese character" ranges: CJK unified and compatibility ideographs, not kana or hangul. */
    private static boolean isCjkIdeograph(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B820 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}

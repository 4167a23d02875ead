package dev.montage.plugins.clip;

import dev.montage.plugins.clip.TokenizerConfig.AddedToken;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Cuts raw text around added tokens, as transformers' {@code Trie.split} does before any normalisation: matching is
 * case-sensitive, the leftmost occurrence wins and, among tokens starting there, the longest. A token declared with
 * {@code lstrip}/{@code rstrip} eats the whitespace of the text before/after it.
 */
final class AddedTokenSplitter {

    /** A piece of the raw text: an added token's content, or ordinary text ({@code token} null) between them. */
    record Segment(String text, AddedToken token) {

        boolean added() {
            return token != null;
        }
    }

    private final List<AddedToken> tokens;

    AddedTokenSplitter(Collection<AddedToken> tokens) {
        this.tokens = List.copyOf(tokens);
    }

    /** The non-empty segments of the text, in order. */
    List<Segment> split(String text) {
        List<Segment> segments = new ArrayList<>();
        int plainStart = 0;
        int i = 0;
        while (i < text.length()) {
            AddedToken token = longestAt(text, i);
            if (token == null) {
                i++;
                continue;
            }
            segments.add(new Segment(text.substring(plainStart, i), null));
            segments.add(new Segment(token.content(), token));
            i += token.content().length();
            plainStart = i;
        }
        segments.add(new Segment(text.substring(plainStart), null));
        stripAroundTokens(segments);
        segments.removeIf(segment -> segment.text().isEmpty());
        return segments;
    }

    private AddedToken longestAt(String text, int offset) {
        AddedToken best = null;
        for (AddedToken token : tokens) {
            if (text.startsWith(token.content(), offset)
                    && (best == null || token.content().length() > best.content().length())) {
                best = token;
            }
        }
        return best;
    }

    /** Segments alternate plain, added, plain, ..., so an added token's neighbours are always plain text. */
    private static void stripAroundTokens(List<Segment> segments) {
        for (int i = 1; i < segments.size(); i += 2) {
            AddedToken token = segments.get(i).token();
            if (token.lstrip()) {
                segments.set(i - 1, new Segment(stripTrailing(segments.get(i - 1).text()), null));
            }
            if (token.rstrip()) {
                segments.set(i + 1, new Segment(stripLeading(segments.get(i + 1).text()), null));
            }
        }
    }

    private static String stripLeading(String text) {
        int start = 0;
        while (start < text.length() && TextNormalizer.isPythonWhitespace(text.charAt(start))) {
            start++;
        }
        return text.substring(start);
    }

    private static String stripTrailing(String text) {
        int end = text.length();
        while (end > 0 && TextNormalizer.isPythonWhitespace(text.charAt(end - 1))) {
            end--;
        }
        return text.substring(0, end);
    }
}

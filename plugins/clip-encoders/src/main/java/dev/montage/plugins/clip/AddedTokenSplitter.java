package dev.montage.plugins.clip;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Cuts raw text around added tokens, as transformers' {@code Trie.split} does before any normalisation: matching is
 * case-sensitive, the leftmost occurrence wins and, among tokens starting there, the longest.
 */
final class AddedTokenSplitter {

    /** A piece of the raw text: an added token's content, or the ordinary text between added tokens. */
    record Segment(String text, boolean added) {
    }

    private final List<String> tokens;

    AddedTokenSplitter(Set<String> tokens) {
        this.tokens = List.copyOf(tokens);
    }

    /** The non-empty segments of the text, in order. */
    List<Segment> split(String text) {
        List<Segment> segments = new ArrayList<>();
        int plainStart = 0;
        int i = 0;
        while (i < text.length()) {
            String token = longestAt(text, i);
            if (token == null) {
                i++;
                continue;
            }
            if (i > plainStart) {
                segments.add(new Segment(text.substring(plainStart, i), false));
            }
            segments.add(new Segment(token, true));
            i += token.length();
            plainStart = i;
        }
        if (plainStart < text.length()) {
            segments.add(new Segment(text.substring(plainStart), false));
        }
        return segments;
    }

    private String longestAt(String text, int offset) {
        String best = null;
        for (String token : tokens) {
            if (text.startsWith(token, offset) && (best == null || token.length() > best.length())) {
                best = token;
            }
        }
        return best;
    }
}

package dev.montage.plugins.clip;

import java.util.List;

/**
 * Where a subject's phrase lies in a prompt's token sequence, as MS-Diffusion's {@code get_phrase_idx} reports it:
 * token positions {@code [start, end)} counted with the begin-of-text token at 0, and the prompt words it matched
 * (their one trailing {@code .!?,:} removed). A phrase that was not found is {@code [0, 0)} with no words.
 *
 * @param start first token of the phrase, or 0
 * @param end   one past its last token, or 0 when the phrase was not found
 * @param words the matched prompt words; empty when the phrase was not found
 */
public record PhraseSpan(int start, int end, List<String> words) {

    /** The result for a phrase that is empty or not in the prompt. */
    public static final PhraseSpan NOT_FOUND = new PhraseSpan(0, 0, List.of());

    /** Copies the words. */
    public PhraseSpan {
        words = List.copyOf(words);
    }

    /** Whether the phrase was found ({@code end} is 0 exactly when it was not). */
    public boolean found() {
        return end != 0;
    }
}

package dev.montage.plugins.clip;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Finds subjects' phrases and the end-of-text position in a prompt exactly as the official MS-Diffusion code does
 * ({@code get_phrase_idx}, {@code get_eot_idx} and {@code inference.py}'s {@code get_phrases_idx}), quirks included,
 * because the attention masks of the trained adapter depend on these token positions.
 *
 * <p>The search works on whitespace-separated words, not tokens: a prompt word matches a phrase word when it equals
 * it after removing <em>one</em> trailing {@code .!?,:} (so {@code DOG!!!} does not match {@code DOG}; case matters)
 * or when it contains {@code "-" + phraseWord} ({@code black-dog} matches {@code dog}, and the span then covers all of
 * {@code black - dog}). Positions are sums of per-word token counts, each word tokenized on its own. The official
 * pipeline uses the first SDXL tokenizer for this. Thread-safe.
 */
public final class PhraseLocator {

    private static final String STRIPPED_PUNCTUATION = ".!?,:";

    private final ClipTokenizer tokenizer;

    /** @param tokenizer the tokenizer whose token counts give the positions (SDXL: the first one) */
    public PhraseLocator(ClipTokenizer tokenizer) {
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
    }

    /**
     * {@code get_phrase_idx(tokenizer, phrase, prompt, get_last_word, num)}.
     *
     * @param lastWordOnly look for the phrase's last word only
     * @param skip         number of earlier matches to pass over; as in the reference, a passed-over match does not
     *                     add its tokens to the running position, so the span found is shifted left by their count
     * @throws IllegalArgumentException when {@code skip} is negative
     */
    public PhraseSpan locate(String prompt, String phrase, boolean lastWordOnly, int skip) {
        if (skip < 0) {
            throw new IllegalArgumentException("skip must be >= 0, got " + skip);
        }
        List<String> phraseWords = TextNormalizer.splitOnWhitespace(phrase);
        if (phraseWords.isEmpty()) {
            return PhraseSpan.NOT_FOUND;
        }
        if (lastWordOnly) {
            phraseWords = phraseWords.subList(phraseWords.size() - 1, phraseWords.size());
        }
        List<String> promptWords = TextNormalizer.splitOnWhitespace(prompt);
        int remainingSkips = skip;
        int start = 1;
        for (int i = 0; i < promptWords.size(); i++) {
            if (!matchesAt(promptWords, i, phraseWords)) {
                start += tokenCount(promptWords.get(i));
            } else if (remainingSkips > 0) {
                remainingSkips--;
            } else {
                return span(promptWords.subList(i, i + phraseWords.size()), start);
            }
        }
        return PhraseSpan.NOT_FOUND;
    }

    /** {@code get_phrase_idx(tokenizer, phrase, prompt)}: the first match of the whole phrase. */
    public PhraseSpan locate(String prompt, String phrase) {
        return locate(prompt, phrase, false, 0);
    }

    /**
     * The spans of all subjects' phrases as {@code inference.py}'s {@code get_phrases_idx} computes them: the n-th
     * occurrence of the same phrase string in the list (compared exactly) skips the n - 1 matches before it.
     */
    public List<PhraseSpan> locateAll(String prompt, List<String> phrases) {
        Map<String, Integer> seen = new HashMap<>();
        List<PhraseSpan> spans = new ArrayList<>(phrases.size());
        for (String phrase : phrases) {
            int earlier = seen.merge(phrase, 1, Integer::sum) - 1;
            spans.add(locate(prompt, phrase, false, earlier));
        }
        return spans;
    }

    /**
     * {@code get_eot_idx(tokenizer, prompt)}: 1 plus the token counts of the prompt's whitespace-separated words,
     * each tokenized on its own (the position of end-of-text unless truncation or word joins change the count).
     */
    public int eotIndex(String prompt) {
        int index = 1;
        for (String word : TextNormalizer.splitOnWhitespace(prompt)) {
            index += tokenCount(word);
        }
        return index;
    }

    private static boolean matchesAt(List<String> promptWords, int offset, List<String> phraseWords) {
        if (offset + phraseWords.size() > promptWords.size()) {
            return false;
        }
        for (int k = 0; k < phraseWords.size(); k++) {
            String promptWord = promptWords.get(offset + k);
            String phraseWord = phraseWords.get(k);
            if (!promptWord.contains("-" + phraseWord) && !phraseWord.equals(stripOnePunctuation(promptWord))) {
                return false;
            }
        }
        return true;
    }

    /** Only the last matched word is counted without its punctuation; earlier ones keep theirs. */
    private PhraseSpan span(List<String> matched, int start) {
        List<String> words = new ArrayList<>(matched.size());
        int end = start;
        for (int k = 0; k < matched.size(); k++) {
            String stripped = stripOnePunctuation(matched.get(k));
            words.add(stripped);
            end += tokenCount(k == matched.size() - 1 ? stripped : matched.get(k));
        }
        return new PhraseSpan(start, end, words);
    }

    /** {@code re.sub(r'[.!?,:]$', '', word)} on a word without line breaks. */
    private static String stripOnePunctuation(String word) {
        boolean trailing = !word.isEmpty() && STRIPPED_PUNCTUATION.indexOf(word.charAt(word.length() - 1)) >= 0;
        return trailing ? word.substring(0, word.length() - 1) : word;
    }

    /** {@code len(tokenizer.encode(word)) - 2}: the word's tokens without the sentinels, never truncated. */
    private int tokenCount(String word) {
        return tokenizer.tokens(word).size();
    }
}

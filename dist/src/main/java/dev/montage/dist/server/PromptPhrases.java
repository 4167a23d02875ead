package dev.montage.dist.server;

import dev.montage.api.spi.TextEncoder.TokenSpan;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The answer of {@code POST /v1/phrases}: whether the text encoder finds each phrase in the prompt (as auto layout
 * looks for it), and the prompt's words it finds that could name a subject.
 */
final class PromptPhrases {
    /** Words that name no subject, left out of the suggestions. */
    static final Set<String> STOP_WORDS = Set.of("a", "an", "the", "and", "or", "of", "on", "in", "at", "to", "with",
            "by", "for", "from", "into", "over", "under", "is", "are", "its", "their", "his", "her");
    private static final Pattern WORD = Pattern.compile("[\\p{L}\\p{N}]+");

    private PromptPhrases() {
    }

    /**
     * @param locate the text encoder's {@link dev.montage.api.spi.TextEncoder#locatePhrases}, called once
     * @return {@code {phrases: [{phrase, locatable, start, end}], suggestions: [word]}}
     */
    static Map<String, Object> of(String prompt, List<String> phrases,
            BiFunction<String, List<String>, List<TokenSpan>> locate) {
        List<String> words = words(prompt);
        // a repeated phrase is looked for after its earlier occurrences: a word that is also one of the phrases
        // takes that phrase's span, and only the other words are looked for after the phrases
        List<String> asked = new ArrayList<>(phrases);
        words.stream().filter(w -> !phrases.contains(w)).forEach(asked::add);
        List<TokenSpan> spans = locate.apply(prompt, asked);
        Map<String, TokenSpan> found = new LinkedHashMap<>();
        for (int i = asked.size() - 1; i >= 0; i--) {
            found.put(asked.get(i), spans.get(i));
        }
        List<Map<String, Object>> located = new ArrayList<>();
        for (int i = 0; i < phrases.size(); i++) {
            TokenSpan span = spans.get(i);
            located.add(Job.ordered("phrase", phrases.get(i), "locatable", locatable(span), "start", span.start(),
                    "end", span.end()));
        }
        List<String> suggestions = words.stream().filter(w -> locatable(found.get(w))).toList();
        return Job.ordered("phrases", located, "suggestions", suggestions);
    }

    private static boolean locatable(TokenSpan span) {
        return span.end() > span.start();
    }

    /** The prompt's distinct words (letters and digits), lower-cased, in order, without the stop words. */
    static List<String> words(String prompt) {
        Set<String> words = new LinkedHashSet<>();
        Matcher m = WORD.matcher(prompt);
        while (m.find()) {
            String word = m.group().toLowerCase(Locale.ROOT);
            if (!STOP_WORDS.contains(word)) {
                words.add(word);
            }
        }
        return List.copyOf(words);
    }
}

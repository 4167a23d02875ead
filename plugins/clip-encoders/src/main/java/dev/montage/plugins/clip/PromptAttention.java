package dev.montage.plugins.clip;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AUTOMATIC1111's emphasis syntax of a prompt ({@code parse_prompt_attention} of its {@code prompt_parser}): the
 * prompt as fragments of text, each with the weight its brackets give. {@code (text)} multiplies by 1.1,
 * {@code [text]} divides by 1.1, {@code (text:1.5)} multiplies by 1.5, nesting multiplies, an unclosed bracket acts to
 * the end of the prompt, {@code \(} {@code \)} {@code \[} {@code \]} {@code \\} are the literal characters, and
 * neighbouring fragments of equal weight are merged.
 *
 * <p>What A1111 reads in a prompt besides emphasis changes more than a token's weight and has no counterpart here, so
 * it is refused rather than encoded as text: {@code BREAK} (a new 75-token chunk), prompt editing and alternation
 * ({@code [from:to:when]}, {@code [a|b]}), composable prompts ({@code AND}) and extra-network tags
 * ({@code <lora:name:0.8>}).
 */
final class PromptAttention {

    /**
     * A piece of the prompt and its weight.
     *
     * @param text   the text, escapes resolved
     * @param weight the product of the brackets around it
     */
    record Fragment(String text, double weight) {
    }

    private static final double ROUND_BRACKET = 1.1;
    private static final double SQUARE_BRACKET = 1 / 1.1;
    private static final Pattern ATTENTION = Pattern.compile("\\\\\\(|\\\\\\)|\\\\\\[|\\\\]|\\\\\\\\|\\\\|\\(|\\[|"
            + ":([+-]?[.\\d]+)\\)|\\)|]|[^\\\\()\\[\\]:]+|:");
    private static final Pattern BREAK = Pattern.compile("\\bBREAK\\b");
    private static final Pattern AND = Pattern.compile("\\bAND\\b");
    /** A square bracket holding a colon or a bar, neither escaped: A1111's prompt editing or alternation. */
    private static final Pattern EDITING = Pattern.compile("(?<!\\\\)\\[(?:[^\\[\\]\\\\]|\\\\.)*(?<!\\\\)[:|]"
            + "(?:[^\\[\\]\\\\]|\\\\.)*]");
    private static final Pattern EXTRA_NETWORK = Pattern.compile("<(lora|lyco|hypernet):[^>]*>");

    private PromptAttention() {
    }

    /**
     * The fragments of a prompt.
     *
     * @throws IllegalArgumentException naming what the prompt asks for that is not emphasis (see the class comment),
     *     or a weight that is no number
     */
    static List<Fragment> parse(String prompt) {
        refuse(EXTRA_NETWORK, prompt, "an extra-network tag, which A1111 takes out of the prompt to apply the "
                + "network: give a LoRA as a LoRA of the request (--lora NAME:SCALE) and leave it out of the prompt");
        refuse(EDITING, prompt, "prompt editing or alternation ([from:to:when], [a|b]), which changes the prompt "
                + "during the run; escape the bracket (\\[) for the literal character");
        refuse(BREAK, prompt, "BREAK, which starts a new 75-token chunk, and a prompt is encoded as one chunk");
        refuse(AND, prompt, "AND, which composes prompts, and a prompt is encoded as one");
        List<String> texts = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        List<Integer> round = new ArrayList<>();
        List<Integer> square = new ArrayList<>();
        Matcher m = ATTENTION.matcher(prompt);
        while (m.find()) {
            String text = m.group();
            String weight = m.group(1);
            if (text.startsWith("\\")) {
                add(texts, weights, text.substring(1));
            } else if (text.equals("(")) {
                round.add(texts.size());
            } else if (text.equals("[")) {
                square.add(texts.size());
            } else if (weight != null && !round.isEmpty()) {
                multiply(weights, round.remove(round.size() - 1), number(weight));
            } else if (text.equals(")") && !round.isEmpty()) {
                multiply(weights, round.remove(round.size() - 1), ROUND_BRACKET);
            } else if (text.equals("]") && !square.isEmpty()) {
                multiply(weights, square.remove(square.size() - 1), SQUARE_BRACKET);
            } else {
                add(texts, weights, text);
            }
        }
        round.forEach(start -> multiply(weights, start, ROUND_BRACKET));
        square.forEach(start -> multiply(weights, start, SQUARE_BRACKET));
        List<Fragment> merged = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            Fragment f = new Fragment(texts.get(i), weights.get(i));
            Fragment last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last != null && last.weight() == f.weight()) {
                merged.set(merged.size() - 1, new Fragment(last.text() + f.text(), f.weight()));
            } else {
                merged.add(f);
            }
        }
        return merged.isEmpty() ? List.of(new Fragment("", 1.0)) : List.copyOf(merged);
    }

    /** The text of a prompt without its emphasis syntax: what its tokens are. */
    static String plainText(String prompt) {
        StringBuilder text = new StringBuilder();
        parse(prompt).forEach(f -> text.append(f.text()));
        return text.toString();
    }

    private static void refuse(Pattern pattern, String prompt, String what) {
        Matcher m = pattern.matcher(prompt);
        if (m.find()) {
            throw new IllegalArgumentException("the prompt has '" + m.group() + "' at character " + m.start() + ": "
                    + what + "; A1111 emphasis (prompt_weighting a1111) reads brackets and weights only");
        }
    }

    private static void add(List<String> texts, List<Double> weights, String text) {
        texts.add(text);
        weights.add(1.0);
    }

    private static void multiply(List<Double> weights, int from, double factor) {
        for (int i = from; i < weights.size(); i++) {
            weights.set(i, weights.get(i) * factor);
        }
    }

    private static double number(String weight) {
        try {
            return Double.parseDouble(weight);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("the prompt gives the weight '" + weight + "', which is no number", e);
        }
    }
}

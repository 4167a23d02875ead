package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.plugins.clip.PromptAttention.Fragment;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A1111's emphasis syntax, with the examples its {@code parse_prompt_attention} documents and checks. */
class PromptAttentionTest {

    private static Fragment f(String text, double weight) {
        return new Fragment(text, weight);
    }

    @Test
    void a1111sOwnExamples() {
        assertEquals(List.of(f("normal text", 1.0)), PromptAttention.parse("normal text"));
        assertEquals(List.of(f("an ", 1.0), f("important", 1.1), f(" word", 1.0)),
                PromptAttention.parse("an (important) word"));
        assertEquals(List.of(f("unbalanced", 1.1)), PromptAttention.parse("(unbalanced"));
        assertEquals(List.of(f("(literal]", 1.0)), PromptAttention.parse("\\(literal\\]"));
        assertEquals(List.of(f("unnecessaryparens", 1.1)), PromptAttention.parse("(unnecessary)(parens)"));
        // the weights as Python's float products give them, to the last bit
        assertEquals(List.of(f("a ", 1.0), f("house", 1.5730000000000004), f(" ", 1.1), f("on", 1.0),
                f(" a ", 1.1), f("hill", 0.55), f(", sun, ", 1.1), f("sky", 1.4641000000000006), f(".", 1.1)),
                PromptAttention.parse("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."));
    }

    @Test
    void squareBracketsWeightsAndStrayClosers() {
        assertEquals(List.of(f("a ", 1.0), f("faint", 1 / 1.1), f(" cat", 1.0)),
                PromptAttention.parse("a [faint] cat"));
        assertEquals(List.of(f("x", 0.5), f(" y", 1.0)), PromptAttention.parse("(x:.5) y"));
        assertEquals(List.of(f("a :1.2) b]", 1.0)), PromptAttention.parse("a :1.2) b]"),
                "a weight or closer without its opening bracket is text");
        assertEquals(List.of(f("", 1.0)), PromptAttention.parse(""));
        assertEquals(List.of(f("", 1.0)), PromptAttention.parse("()"));
        assertEquals("a house on a hill", PromptAttention.plainText("a ((house:1.3) on) [a] (hill:0.5)"));
    }

    @Test
    void whatIsNotEmphasisIsRefusedNamingIt() {
        for (String[] c : new String[][] {
            {"a castle BREAK a moat", "'BREAK' at character 9"},
            {"a [cat:dog:0.5] on a mat", "'[cat:dog:0.5]' at character 2: prompt editing"},
            {"a [cat|dog]", "'[cat|dog]' at character 2: prompt editing or alternation"},
            {"a cat AND a dog", "'AND' at character 6: AND, which composes prompts"},
            {"a cat <lora:watercolor:0.7>", "'<lora:watercolor:0.7>' at character 6: an extra-network tag"},
            {"(cat:1.2.3)", "the weight '1.2.3', which is no number"}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> PromptAttention.parse(c[0]), c[0]);
            assertTrue(e.getMessage().contains(c[1]), e.getMessage());
        }
        assertEquals(List.of(f("a [cat:dog] band", 1.0)), PromptAttention.parse("a \\[cat:dog\\] band"),
                "escaped brackets are text");
        assertEquals(List.of(f("BREAKFAST and android", 1.0)), PromptAttention.parse("BREAKFAST and android"));
    }
}

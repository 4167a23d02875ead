package dev.montage.api;

import dev.montage.api.spi.TextEncoder;
import java.util.List;
import java.util.Optional;

/**
 * How the subjects of one generation are laid out in the cross-attention context and in the image: what the
 * pipeline tells every multi-subject attention processor through the {@link GenerationContext} under
 * {@link #KEY}.
 *
 * <p>The context of each batch row is {@code [textTokens text | dummyTokens | tokensPerSubject × subjects]}.
 *
 * @param textTokens       text tokens at the start of the context (77)
 * @param dummyTokens      learned background tokens after them
 * @param tokensPerSubject tokens each subject contributes
 * @param boxes            per batch row (CFG order: unconditional rows first), per subject: x0, y0, x1, y1 in
 *                         0..1; an all-zero box covers nothing (unconditional rows are all zero)
 * @param unconditionalRows how many batch rows, from the first, are the unconditional half of classifier-free
 *                         guidance (0 without guidance): known by position, since a user's boxes may be all zero
 *                         too
 * @param scale            global image-attention scale
 * @param subjectScales    per-subject scales, replacing {@code scale} when present
 * @param phraseSpans      token span of each subject's phrase in the prompt (auto layout)
 * @param eotIndex         end-of-text index of the prompt (auto layout)
 * @param autoLayout       auto layout settings, if on
 */
public record SubjectLayout(
        int textTokens,
        int dummyTokens,
        int tokensPerSubject,
        float[][][] boxes,
        int unconditionalRows,
        double scale,
        Optional<double[]> subjectScales,
        List<TextEncoder.TokenSpan> phraseSpans,
        int eotIndex,
        Optional<AutoLayout> autoLayout) {

    /** Where the pipeline stores the layout of the running generation. */
    public static final GenerationContext.Key<SubjectLayout> KEY = GenerationContext.Key.of("subjectLayout",
            SubjectLayout.class);

    /**
     * @throws IllegalArgumentException when counts disagree
     */
    public SubjectLayout {
        if (textTokens <= 0 || dummyTokens < 0 || tokensPerSubject <= 0) {
            throw new IllegalArgumentException("token counts must be positive: text " + textTokens + ", dummy "
                    + dummyTokens + ", per subject " + tokensPerSubject);
        }
        if (unconditionalRows < 0 || unconditionalRows > boxes.length) {
            throw new IllegalArgumentException("unconditional rows must be within the " + boxes.length
                    + " batch rows, got " + unconditionalRows);
        }
        int subjects = boxes.length == 0 ? 0 : boxes[0].length;
        for (float[][] row : boxes) {
            if (row.length != subjects) {
                throw new IllegalArgumentException("every batch row needs " + subjects + " boxes, got " + row.length);
            }
        }
        if (subjectScales.isPresent() && subjectScales.get().length != subjects) {
            throw new IllegalArgumentException(
                    subjects + " subjects but " + subjectScales.get().length + " subject scales");
        }
        phraseSpans = List.copyOf(phraseSpans);
    }

    /** Number of subjects. */
    public int subjects() {
        return boxes.length == 0 ? 0 : boxes[0].length;
    }

    /** Whether batch row {@code row} belongs to the unconditional half of classifier-free guidance. */
    public boolean isUnconditional(int row) {
        return row < unconditionalRows;
    }

    /** Image tokens after the text: dummy tokens plus every subject's tokens. */
    public int imageTokens() {
        return dummyTokens + subjects() * tokensPerSubject;
    }
}

package dev.montage.api;

import ai.djl.ndarray.NDArray;
import dev.montage.api.spi.TextEncoder;
import java.util.List;
import java.util.Optional;

/**
 * The subjects of one generation as the denoiser receives them, beside the text: their tokens and where each may
 * act. Built once per generation by the pipeline from the {@link dev.montage.api.spi.SubjectResampler}'s tokens and
 * the request, and handed to every cross-attention layer in its {@link dev.montage.api.spi.EncoderContext}.
 *
 * <p>Which batch rows are the unconditional half of classifier-free guidance is known by position (the first
 * {@code unconditionalRows}), never from the boxes: a user may give an all-zero box on purpose.
 *
 * @param tokens            [rows, dummyTokens + subjects × tokensPerSubject, D]: the learned background tokens, then
 *                          each subject's tokens in request order; the unconditional rows hold what the resampler
 *                          asks for ({@link dev.montage.api.spi.SubjectResampler#unconditional()})
 * @param unconditionalRows how many batch rows, from the first, are unconditional (0 without guidance)
 * @param dummyTokens       learned background tokens at the start of {@code tokens}
 * @param tokensPerSubject  tokens each subject contributes
 * @param boxes             each subject's box, for the conditional rows; the unconditional rows have none
 * @param scale             global image-attention scale
 * @param subjectScales     per-subject scales, replacing {@code scale} when present
 * @param phraseSpans       token span of each subject's phrase in the prompt (auto layout)
 * @param eotIndex          end-of-text index of the prompt (auto layout)
 * @param autoLayout        auto layout settings, if on
 */
public record SubjectConditioning(
        NDArray tokens,
        int unconditionalRows,
        int dummyTokens,
        int tokensPerSubject,
        List<Box> boxes,
        double scale,
        Optional<double[]> subjectScales,
        List<TextEncoder.TokenSpan> phraseSpans,
        int eotIndex,
        Optional<AutoLayout> autoLayout) {

    public SubjectConditioning {
        if (tokens == null || tokens.getShape().dimension() != 3) {
            throw new IllegalArgumentException("subject tokens must be [rows, tokens, width], got "
                    + (tokens == null ? "none" : tokens.getShape()));
        }
        if (dummyTokens < 0 || tokensPerSubject <= 0) {
            throw new IllegalArgumentException("token counts must be positive: dummy " + dummyTokens
                    + ", per subject " + tokensPerSubject);
        }
        boxes = List.copyOf(boxes);
        long expected = dummyTokens + (long) boxes.size() * tokensPerSubject;
        if (tokens.getShape().get(1) != expected) {
            throw new IllegalArgumentException(boxes.size() + " subjects of " + tokensPerSubject + " tokens after "
                    + dummyTokens + " dummy tokens make " + expected + " tokens, got " + tokens.getShape());
        }
        long rows = tokens.getShape().get(0);
        if (unconditionalRows < 0 || unconditionalRows > rows) {
            throw new IllegalArgumentException("unconditional rows must be within the " + rows + " batch rows, got "
                    + unconditionalRows);
        }
        if (subjectScales.isPresent() && subjectScales.get().length != boxes.size()) {
            throw new IllegalArgumentException(
                    boxes.size() + " subjects but " + subjectScales.get().length + " subject scales");
        }
        phraseSpans = List.copyOf(phraseSpans);
    }

    /** Batch rows, unconditional ones first. */
    public int rows() {
        return (int) tokens.getShape().get(0);
    }

    public int subjects() {
        return boxes.size();
    }

    public boolean isUnconditional(int row) {
        return row < unconditionalRows;
    }

    /** Tokens per batch row: the dummy tokens and every subject's. */
    public int imageTokens() {
        return (int) tokens.getShape().get(1);
    }
}

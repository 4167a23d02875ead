package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.util.List;

/**
 * The prompt side of SDXL: both CLIP tokenizers and text towers.
 */
public interface TextEncoder {

    /** Tokens per encoded prompt (77 for CLIP). */
    int maxTokens();

    /**
     * Encodes negative prompts: as {@link #encode}, except that an empty negative prompt becomes all-zero
     * tokens and pooled embedding when the model asks for it ({@code force_zeros_for_empty_prompt}).
     */
    PromptEmbeddings encodeNegative(NDManager manager, List<String> negativePrompts);

    /**
     * Encodes prompts as SDXL does: the penultimate hidden states of both towers concatenated along channels,
     * and the second tower's projected pooled output.
     *
     * @return tokens [B, 77, C] (C = 2048 for SDXL) and pooled [B, P] (P = 1280), float, compute dtype
     */
    PromptEmbeddings encode(NDManager manager, List<String> prompts);

    /**
     * Encodes subject phrases for the grounding resampler: the first tower's pooled output.
     *
     * @return [N, D] (D = 768 for SDXL's CLIP-L)
     */
    NDArray encodePhrases(NDManager manager, List<String> phrases);

    /**
     * Where each subject's phrase sits in the prompt's token sequence, for auto layout, exactly as
     * MS-Diffusion's {@code get_phrase_idx} computes it (a repeated phrase takes its next occurrence).
     *
     * @return one [start, end) span per phrase; {@code [0, 0)} for a phrase that does not occur
     */
    List<TokenSpan> locatePhrases(String prompt, List<String> phrases);

    /** Index of the end-of-text token of the prompt's 77-token sequence. */
    int endOfTextIndex(String prompt);

    /**
     * A span of token positions.
     *
     * @param start first position
     * @param end   one past the last position
     */
    record TokenSpan(int start, int end) {
    }

    /**
     * The encoded prompts.
     *
     * @param tokens [B, 77, C]
     * @param pooled [B, P]
     */
    record PromptEmbeddings(NDArray tokens, NDArray pooled) implements AutoCloseable {
        @Override
        public void close() {
            tokens.close();
            pooled.close();
        }
    }
}

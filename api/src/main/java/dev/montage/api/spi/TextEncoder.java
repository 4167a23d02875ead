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
     * Where a phrase sits in a prompt's token sequence, for auto layout: the [start, end) span of its
     * {@code occurrence}-th appearance (0-based) and the end-of-text index.
     *
     * @throws IllegalArgumentException naming the phrase when it does not occur in the prompt
     */
    PhraseSpan locatePhrase(String prompt, String phrase, int occurrence);

    /**
     * Token ids of a phrase span.
     *
     * @param start first token index of the phrase in the 77-token sequence
     * @param end   one past its last token
     * @param eot   index of the end-of-text token
     */
    record PhraseSpan(int start, int end, int eot) {
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

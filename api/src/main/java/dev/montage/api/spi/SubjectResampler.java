package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.EnumSet;
import java.util.Set;

/**
 * Turns encoded subject pictures into cross-attention tokens: the image side of a subject adapter (MS-Diffusion's
 * grounding resampler, IP-Adapter's image projection). It says which image features it reads and which fields of a
 * subject its adapter uses; the host refuses requests that give others, so nothing a user sets is ignored.
 */
public interface SubjectResampler {

    /** The fields of a {@link dev.montage.api.Subject}, besides its picture, that an adapter may read. */
    enum SubjectField {
        /** The words naming the subject in the prompt; required when read. */
        PHRASE,
        /** Where the subject acts. */
        BOX,
        /** Whether the subject's grounding (phrase and box queries) is dropped. */
        DROP_GROUNDING
    }

    /** Tokens produced per subject (16 for MS-Diffusion's published checkpoint). */
    int tokensPerSubject();

    /** Width of the produced tokens (the UNet's cross-attention width, 2048 for SDXL). */
    int outputDim();

    /** The image encoder's output this resampler reads. */
    default ImageEncoder.Features imageFeatures() {
        return ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES;
    }

    /** The subject fields this adapter reads; a request that sets another is refused. */
    default Set<SubjectField> subjectFields() {
        return EnumSet.allOf(SubjectField.class);
    }

    /**
     * @param imageEmbeds   the {@link ImageEncoder}'s {@link #imageFeatures()} of the N subject pictures
     * @param phraseEmbeds  [N, D] from {@link TextEncoder#encodePhrases}; null when the adapter reads no phrases
     * @param boxes         [N, 4] x0, y0, x1, y1 in 0..1
     * @param dropGrounding per subject: use learned latent queries instead of phrase+box queries
     * @return [N, tokensPerSubject, outputDim]
     */
    NDArray resample(NDManager manager, NDArray imageEmbeds, NDArray phraseEmbeds, NDArray boxes,
            boolean[] dropGrounding);

    /** The learned background ("dummy") tokens, [1, numDummy, outputDim]; numDummy may be 0. */
    NDArray dummyTokens(NDManager manager);

    /** What an unconditional batch row of classifier-free guidance holds in place of the subjects' tokens. */
    enum Unconditional {
        /** Zeros, background tokens included (MS-Diffusion). */
        ZERO_TOKENS,
        /**
         * The background tokens and this resampler's tokens of all-zero image features (the plain IP-Adapter's
         * projection of a zero embedding).
         */
        ZERO_FEATURES,
        /**
         * The background tokens and this resampler's tokens of the image encoder's features of a blank picture
         * ({@link ImageEncoder#encodeBlank}: IP-Adapter Plus).
         */
        BLANK_PICTURE_FEATURES
    }

    /** What the unconditional rows hold; the host computes them, with {@link #resample} where features are needed. */
    default Unconditional unconditional() {
        return Unconditional.ZERO_TOKENS;
    }
}

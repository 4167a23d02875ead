package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/** Turns encoded subject pictures into cross-attention tokens (MS-Diffusion's grounding resampler). */
public interface SubjectResampler {

    /** Tokens produced per subject (16 for the published checkpoint). */
    int tokensPerSubject();

    /** Width of the produced tokens (the UNet's cross-attention width, 2048 for SDXL). */
    int outputDim();

    /**
     * @param imageEmbeds   [N, T, C] from the {@link ImageEncoder}
     * @param phraseEmbeds  [N, D] from {@link TextEncoder#encodePhrases}
     * @param boxes         [N, 4] x0, y0, x1, y1 in 0..1
     * @param dropGrounding per subject: use learned latent queries instead of phrase+box queries
     * @return [N, tokensPerSubject, outputDim]
     */
    NDArray resample(NDManager manager, NDArray imageEmbeds, NDArray phraseEmbeds, NDArray boxes,
            boolean[] dropGrounding);

    /** The learned background ("dummy") tokens, [1, numDummy, outputDim]. */
    NDArray dummyTokens(NDManager manager);
}

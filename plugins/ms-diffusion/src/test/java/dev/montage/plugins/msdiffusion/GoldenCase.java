package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.DenoisingModel;

/** A golden pipeline case with the resampler's inputs and the UNet's text and subject inputs of each step. */
final class GoldenCase extends dev.montage.runtime.testing.GoldenCase {

    private GoldenCase(String name) {
        super(name);
    }

    static GoldenCase open(String name) {
        return new GoldenCase(name);
    }

    /** The UNet input of step {@code i}, whose text and subject tokens {@code layout} splits. */
    DenoisingModel.DenoisingInput unetInput(NDManager m, int step, String uncondContext, String condContext,
            TestLayout layout) {
        return unetInput(m, step, uncondContext, condContext, layout::split);
    }

    /** Number of subjects. */
    int subjects() {
        return (int) tensors.shape("image_embeds")[0];
    }

    /** [N, T, C] image encoder tokens, float32. */
    NDArray imageEmbeds(NDManager m) {
        return array(m, "image_embeds");
    }

    /** [N, D] phrase embeddings, float32. */
    NDArray phraseEmbeds(NDManager m) {
        return array(m, "phrase_embeds");
    }

    /** [N, 4] boxes (stored as [1, N, 4]), float32. */
    NDArray boxes(NDManager m) {
        return array(m, "boxes").reshape(subjects(), 4);
    }
}

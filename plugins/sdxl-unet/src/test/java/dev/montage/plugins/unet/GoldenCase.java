package dev.montage.plugins.unet;

import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.EncoderContext;

/** A golden pipeline case with the UNet's text-only inputs of each step. */
final class GoldenCase extends dev.montage.runtime.testing.GoldenCase {

    private GoldenCase(String name) {
        super(name);
    }

    static GoldenCase open(String name) {
        return new GoldenCase(name);
    }

    /** The UNet input of step {@code i} with a context of text tokens only. */
    DenoisingModel.DenoisingInput unetInput(NDManager m, int step, String uncondContext, String condContext) {
        return unetInput(m, step, uncondContext, condContext, EncoderContext::text);
    }
}

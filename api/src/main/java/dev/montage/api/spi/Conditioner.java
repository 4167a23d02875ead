package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;

/**
 * A spatial control network (ControlNet) that adds residuals to the denoising model. One instance serves one
 * control type; the pipeline calls it once per step for every control of that type that is inside its guidance
 * window, and sums the residuals of all controls.
 */
public interface Conditioner {

    /**
     * The option the host gives a conditioner's factory: the control type the network is built for. A factory that
     * serves several types declares it in {@link ComponentFactory#options()}; one registered under the id of its type
     * may ignore it.
     */
    OptionSpec<String> CONTROL_TYPE = OptionSpec.string("type", "[a-z0-9][a-z0-9_-]*",
            "a control type (lower-case letters, digits, '-', '_'), e.g. canny",
            "the control type the network serves (given by the host)");

    /** The control type it serves, e.g. {@code "canny"}. */
    String type();

    /**
     * @param manager      receives the residuals
     * @param input        the UNet call's inputs; its context's text is what the network cross-attends to: the
     *                     pipeline passes the text tokens, or text and subject tokens concatenated, per
     *                     {@link dev.montage.api.ControlNetContext}, and no subjects; {@code control} is null
     * @param controlImage [B, 3, H, W] in 0..1 (RGB, not normalised to -1..1), rows as the latents' rows (the
     *                     same picture in both CFG halves)
     * @param scale        conditioning scale multiplied into every residual
     * @return one residual per skip connection of the denoising model and one for its mid block, attached to
     *     {@code manager}
     */
    DenoisingModel.ControlResiduals residuals(NDManager manager, DenoisingModel.DenoisingInput input,
            NDArray controlImage, float scale, GenerationContext ctx);

    /**
     * Called once per generation and control before the first {@link #residuals} call, with the context those calls
     * pass: as {@link DenoisingModel#prepare}.
     */
    default void prepare(EncoderContext context, GenerationContext ctx) {
    }
}

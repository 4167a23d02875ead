package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;

/** A spatial control network (ControlNet) that adds residuals to the denoising model. */
public interface Conditioner {

    /** The control type it serves, e.g. {@code "canny"}. */
    String type();

    /**
     * @param input        the UNet call's inputs (the context may be cut to text tokens by the implementation)
     * @param controlImage [B, 3, H, W] in 0..1, already doubled for CFG
     * @param scale        conditioning scale multiplied into every residual
     */
    DenoisingModel.ControlResiduals residuals(NDManager manager, DenoisingModel.DenoisingInput input,
            NDArray controlImage, float scale, GenerationContext ctx);
}

package dev.montage.controlnet.depth;

import java.awt.image.BufferedImage;

/**
 * A monocular depth estimation model (MiDaS, DPT, Depth Anything, ...) that turns a photograph into a
 * {@link DepthMap}; the {@code depth} condition then normalises it into the control image. Plug one in with a
 * {@link DepthEstimatorFactory}.
 *
 * <p>An estimator is shared by concurrent generations: keep per-call state out of its fields.
 */
public interface DepthEstimator {

    /**
     * @param picture the user's photograph
     * @return relative depth, larger = nearer, at any resolution (the preprocessor resizes it to the output size)
     */
    DepthMap estimate(BufferedImage picture);
}

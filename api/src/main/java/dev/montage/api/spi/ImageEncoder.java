package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import java.awt.image.BufferedImage;
import java.util.List;

/** The subject side: a CLIP vision tower whose penultimate hidden states feed the resampler. */
public interface ImageEncoder {

    /**
     * Preprocesses (RGB, resize, centre crop, normalise) and encodes subject pictures.
     *
     * @return [N, T, C] penultimate hidden states including the class token (T = 257, C = 1664 for CLIP-G)
     */
    NDArray encode(NDManager manager, List<BufferedImage> images);
}

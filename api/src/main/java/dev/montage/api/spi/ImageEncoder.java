package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.util.List;

/** The subject side: a vision tower (CLIP) that encodes subject pictures into the features a resampler reads. */
public interface ImageEncoder {

    /** What an image encoder can give of a picture; a {@link SubjectResampler} says which it reads. */
    enum Features {
        /**
         * [N, T, C] hidden states of the second-to-last layer, every token including the class token, without the
         * final layer norm (T = 257, C = 1664 for CLIP-G): what MS-Diffusion's and IP-Adapter Plus' resamplers read.
         */
        PENULTIMATE_HIDDEN_STATES,
        /**
         * [N, P] the projected pooled output ({@code image_embeds} of a CLIP vision model with projection: the class
         * token after the final layer norm, times the visual projection; P = 1280 for CLIP-G): what the plain
         * IP-Adapter projects.
         */
        IMAGE_EMBEDS
    }

    /**
     * Preprocesses (RGB, resize, centre crop, normalise) and encodes subject pictures.
     *
     * @param features which output to compute
     * @return the features, as {@link Features} describes them
     */
    NDArray encode(NDManager manager, List<BufferedImage> images, Features features);

    /**
     * The features of {@code count} blank pictures: all-zero pixel values after preprocessing, as IP-Adapter Plus
     * encodes {@code torch.zeros_like(pixel_values)} for its unconditional tokens.
     *
     * @throws UnsupportedOperationException when this encoder cannot (the default)
     */
    default NDArray encodeBlank(NDManager manager, int count, Features features) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot encode blank pictures");
    }
}

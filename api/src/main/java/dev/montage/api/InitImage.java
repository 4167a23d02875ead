package dev.montage.api;

import java.awt.image.BufferedImage;

/**
 * The picture a generation starts from (image-to-image), as diffusers' {@code StableDiffusionXLImg2ImgPipeline} takes
 * it: the picture is resized to the generation's size and encoded to latents, which are noised to the level of the step
 * at which the run begins, and only the steps from there on are taken. Of N steps the last ⌊N · strength⌋ run.
 *
 * @param image     the picture (any size; it is resized to the request's width and height)
 * @param imageName where the picture came from (file name or upload id), for messages and metadata
 * @param strength  how much of the picture is replaced, in (0, 1]: 1 starts from pure noise at the first step, a small
 *                  value keeps the picture nearly as it is
 */
public record InitImage(BufferedImage image, String imageName, double strength) {

    /** diffusers' default strength of its SDXL image-to-image pipeline. */
    public static final double DEFAULT_STRENGTH = 0.3;

    /**
     * @throws IllegalArgumentException naming the field: image missing or empty, strength outside (0, 1]
     */
    public InitImage {
        if (image == null) {
            throw new IllegalArgumentException("initImage.image is required");
        }
        imageName = imageName == null ? "image" : imageName;
        if (image.getWidth() <= 0 || image.getHeight() <= 0) {
            throw new IllegalArgumentException("initImage.image '" + imageName + "' is empty");
        }
        if (!(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("initImage.strength must be in (0, 1], got " + strength);
        }
    }

    /**
     * How many of a run of {@code steps} steps are taken: ⌊steps · strength⌋, at most {@code steps} (diffusers'
     * {@code get_timesteps}); the run skips the first {@code steps} minus that.
     */
    public int stepsTaken(int steps) {
        return Math.min((int) (steps * strength), steps);
    }
}

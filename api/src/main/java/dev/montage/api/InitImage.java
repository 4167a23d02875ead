package dev.montage.api;

import java.awt.image.BufferedImage;
import java.util.Objects;

/**
 * The picture a generation starts from (image-to-image), as diffusers' {@code StableDiffusionXLImg2ImgPipeline} takes
 * it: the picture is resized to the generation's size and encoded to latents, which are noised to the level of the step
 * at which the run begins, and only the steps from there on are taken. Of N steps the last ⌊N · strength⌋ run.
 *
 * <p>With a mask, the run repaints only where the mask is white (inpainting), as diffusers'
 * {@code StableDiffusionXLInpaintPipeline} runs a UNet of four input channels: after each step the latents outside the
 * mask are those of the picture noised to the next step's level; at strength 1 the run starts from noise.
 *
 * @param image     the picture (any size; it is resized to the request's width and height)
 * @param imageName where the picture came from (file name or upload id), for messages and metadata
 * @param strength  how much of the picture is replaced, in (0, 1]: 1 starts from pure noise at the first step, a small
 *                  value keeps the picture nearly as it is
 * @param mask      where to repaint: white (a grey level of 128 or more) is repainted, black kept; any size, resized as
 *                  the picture is; null to repaint everywhere
 * @param maskName  where the mask came from, for messages and metadata; null without a mask
 */
public record InitImage(BufferedImage image, String imageName, double strength, BufferedImage mask, String maskName) {

    /** diffusers' default strength of its SDXL image-to-image pipeline. */
    public static final double DEFAULT_STRENGTH = 0.3;

    /** The strength a run with a mask takes by default: the masked area is repainted from noise. */
    public static final double DEFAULT_MASKED_STRENGTH = 1.0;

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
        if (mask != null) {
            maskName = maskName == null ? "mask" : maskName;
            if (mask.getWidth() <= 0 || mask.getHeight() <= 0) {
                throw new IllegalArgumentException("initImage.mask '" + maskName + "' is empty");
            }
        } else if (maskName != null) {
            throw new IllegalArgumentException("initImage.mask is missing, but named '" + maskName + "'");
        }
    }

    /** A picture to start from, repainted everywhere. */
    public InitImage(BufferedImage image, String imageName, double strength) {
        this(image, imageName, strength, null, null);
    }

    /** This picture repainted only where {@code mask} is white. */
    public InitImage withMask(BufferedImage mask, String maskName) {
        return new InitImage(image, imageName, strength, Objects.requireNonNull(mask, "mask"), maskName);
    }

    /** The default strength: {@link #DEFAULT_MASKED_STRENGTH} with a mask, else {@link #DEFAULT_STRENGTH}. */
    public static double defaultStrength(boolean masked) {
        return masked ? DEFAULT_MASKED_STRENGTH : DEFAULT_STRENGTH;
    }

    /**
     * How many of a run of {@code steps} steps are taken: ⌊steps · strength⌋, at most {@code steps} (diffusers'
     * {@code get_timesteps}); the run skips the first {@code steps} minus that.
     */
    public int stepsTaken(int steps) {
        return Math.min((int) (steps * strength), steps);
    }
}

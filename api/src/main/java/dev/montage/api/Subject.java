package dev.montage.api;

import java.awt.image.BufferedImage;
import java.util.Objects;
import java.util.OptionalDouble;

/**
 * One subject to place in the image: a reference picture of it, the phrase that names it in the prompt,
 * and where it goes.
 *
 * @param image         the reference picture (any size; the image encoder preprocesses it)
 * @param imageName     where the picture came from (file name or upload id), for messages and metadata
 * @param phrase        the words naming the subject, e.g. {@code "dog"}; its first occurrence in the prompt
 *                      is the one auto layout follows; null for an adapter that reads no phrases (IP-Adapter)
 * @param box           where the subject may act, or {@link Box#NONE} for no layout
 * @param scale         this subject's image-attention scale, overriding the request's global scale when present
 * @param dropGrounding use the resampler's learned latent queries instead of the phrase+box grounding queries
 */
public record Subject(
        BufferedImage image, String imageName, String phrase, Box box, OptionalDouble scale, boolean dropGrounding) {

    /**
     * @throws IllegalArgumentException naming the field: image missing, phrase blank (but not null), box missing,
     *     scale negative
     */
    public Subject {
        if (image == null) {
            throw new IllegalArgumentException("subject.image is required");
        }
        if (image.getWidth() <= 0 || image.getHeight() <= 0) {
            throw new IllegalArgumentException("subject.image '" + imageName + "' is empty");
        }
        imageName = imageName == null ? "image" : imageName;
        if (phrase != null && phrase.isBlank()) {
            throw new IllegalArgumentException("subject.phrase of image '" + imageName + "' is blank; give the words "
                    + "that name the subject, or none for an adapter that reads no phrases");
        }
        Objects.requireNonNull(box, "subject.box is required (use Box.NONE for no layout)");
        scale = scale == null ? OptionalDouble.empty() : scale;
        if (scale.isPresent() && !(scale.getAsDouble() >= 0 && Double.isFinite(scale.getAsDouble()))) {
            throw new IllegalArgumentException("subject.scale must be a finite number >= 0, got " + scale.getAsDouble());
        }
    }

    /** A subject with the global scale and grounding on. */
    public static Subject of(BufferedImage image, String imageName, String phrase, Box box) {
        return new Subject(image, imageName, phrase, box, OptionalDouble.empty(), false);
    }

    /** The same subject with its own image-attention scale. */
    public Subject withScale(double s) {
        return new Subject(image, imageName, phrase, box, OptionalDouble.of(s), dropGrounding);
    }

    /** The same subject with grounding dropped or kept. */
    public Subject withDropGrounding(boolean drop) {
        return new Subject(image, imageName, phrase, box, scale, drop);
    }
}

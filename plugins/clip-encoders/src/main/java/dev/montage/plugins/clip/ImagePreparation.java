package dev.montage.plugins.clip;

import java.awt.Color;
import java.util.Objects;
import java.util.Optional;

/**
 * How a subject picture becomes the square RGB picture that CLIP preprocessing starts from.
 *
 * <p>{@link #OFFICIAL} does what MS-Diffusion's inference script does ({@code convert("RGB")}, which drops
 * transparency, then a bicubic resize to 512x512 that squashes non-square pictures). Two options of the image
 * encoder ({@link SdxlImageEncoderFactory#ALPHA_BACKGROUND}, {@link SdxlImageEncoderFactory#PAD_TO_SQUARE}) change
 * that: transparent pixels can be composited onto a colour (a cut-out subject otherwise shows whatever colour its
 * transparent pixels happen to store), and a non-square picture can be padded to a square with a colour instead of
 * being squashed.
 *
 * @param alphaBackground the colour transparent pixels are composited onto; empty to drop alpha
 * @param padColor        the colour a non-square picture is centred on to make it square; empty to squash it
 */
public record ImagePreparation(Optional<Color> alphaBackground, Optional<Color> padColor) {
    /** The official behaviour: alpha dropped, picture squashed to the square. */
    public static final ImagePreparation OFFICIAL = new ImagePreparation(Optional.empty(), Optional.empty());

    public ImagePreparation {
        Objects.requireNonNull(alphaBackground, "alphaBackground");
        Objects.requireNonNull(padColor, "padColor");
    }

    /** The same, with transparent pixels composited onto {@code color}. */
    public ImagePreparation compositeAlphaOnto(Color color) {
        return new ImagePreparation(Optional.of(color), padColor);
    }

    /** The same, with non-square pictures padded to a square with {@code color}. */
    public ImagePreparation padToSquare(Color color) {
        return new ImagePreparation(alphaBackground, Optional.of(color));
    }
}

package dev.montage.plugins.clip;

import java.awt.Color;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How a subject picture becomes the square RGB picture that CLIP preprocessing starts from.
 *
 * <p>{@link #OFFICIAL} does what MS-Diffusion's inference script does ({@code convert("RGB")}, which drops
 * transparency, then a bicubic resize to 512x512 that squashes non-square pictures). Two options change that:
 * transparent pixels can be composited onto a colour (a cut-out subject otherwise shows whatever colour its
 * transparent pixels happen to store), and a non-square picture can be padded to a square with a colour instead of
 * being squashed.
 *
 * @param alphaBackground the colour transparent pixels are composited onto; empty to drop alpha
 * @param padColor        the colour a non-square picture is centred on to make it square; empty to squash it
 */
public record ImagePreparation(Optional<Color> alphaBackground, Optional<Color> padColor) {
    /** The official behaviour: alpha dropped, picture squashed to the square. */
    public static final ImagePreparation OFFICIAL = new ImagePreparation(Optional.empty(), Optional.empty());

    /** Profile option naming the colour to composite transparent subjects onto, e.g. {@code "#ffffff"}. */
    public static final String ALPHA_BACKGROUND_OPTION = "alpha_background";

    /** Profile option naming the colour to pad non-square subjects with, e.g. {@code "#000000"}. */
    public static final String PAD_TO_SQUARE_OPTION = "pad_to_square";

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

    /**
     * Reads {@value #ALPHA_BACKGROUND_OPTION} and {@value #PAD_TO_SQUARE_OPTION} (colours as {@code #rrggbb});
     * an absent option keeps the official behaviour.
     *
     * @throws IllegalArgumentException naming the option and its value when it is not a colour
     */
    public static ImagePreparation fromOptions(Map<String, String> options) {
        ImagePreparation p = OFFICIAL;
        String alpha = options.get(ALPHA_BACKGROUND_OPTION);
        if (alpha != null) {
            p = p.compositeAlphaOnto(parseColor(ALPHA_BACKGROUND_OPTION, alpha));
        }
        String pad = options.get(PAD_TO_SQUARE_OPTION);
        if (pad != null) {
            p = p.padToSquare(parseColor(PAD_TO_SQUARE_OPTION, pad));
        }
        return p;
    }

    private static Color parseColor(String option, String value) {
        String hex = value.trim().toLowerCase(Locale.ROOT);
        hex = hex.startsWith("#") ? hex.substring(1) : hex;
        if (!hex.matches("[0-9a-f]{6}")) {
            throw new IllegalArgumentException("option '" + option + "' must be a colour as #rrggbb, got '" + value + "'");
        }
        return new Color(Integer.parseInt(hex, 16));
    }
}

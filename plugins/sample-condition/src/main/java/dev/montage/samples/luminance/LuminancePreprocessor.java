package dev.montage.samples.luminance;

import dev.montage.api.spi.ConditionPreprocessor;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.Map;
import java.util.Set;

/**
 * The brightness of a picture as a conditioning image: resized (bilinear) to the output size, each pixel replaced by
 * its ITU-R BT.601 luma in all three channels, computed as Pillow's {@code convert("L")} does it; option
 * {@code invert=true} gives dark-on-light.
 */
final class LuminancePreprocessor implements ConditionPreprocessor {
    private static final Set<String> OPTIONS = Set.of("invert");

    @Override
    public String type() {
        return "luminance";
    }

    @Override
    public BufferedImage preprocess(BufferedImage input, Map<String, String> options, int width, int height) {
        for (String key : options.keySet()) {
            if (!OPTIONS.contains(key)) {
                throw new IllegalArgumentException("luminance has no option '" + key + "'; known: " + OPTIONS);
            }
        }
        boolean invert = flag(options.getOrDefault("invert", "false"));
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("luminance output size must be positive, got " + width + "x" + height);
        }
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(input, 0, 0, width, height, null);
        g.dispose();
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int l = luma(out.getRGB(x, y));
                if (invert) {
                    l = 255 - l;
                }
                out.setRGB(x, y, (l << 16) | (l << 8) | l);
            }
        }
        return out;
    }

    /** Pillow's fixed-point BT.601 luma: (R·19595 + G·38470 + B·7471 + 2¹⁵) >> 16. */
    static int luma(int rgb) {
        int r = (rgb >> 16) & 0xFF;
        int g = (rgb >> 8) & 0xFF;
        int b = rgb & 0xFF;
        return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    }

    private static boolean flag(String value) {
        return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("luminance option 'invert' must be true or false, got '"
                    + value + "'");
        };
    }
}

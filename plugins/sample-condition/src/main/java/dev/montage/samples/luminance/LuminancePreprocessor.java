package dev.montage.samples.luminance;

import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * The brightness of a picture as a conditioning image: resized (bilinear) to the output size, each pixel replaced by
 * its ITU-R BT.601 luma in all three channels, computed as Pillow's {@code convert("L")} does it; option
 * {@code invert=true} gives dark-on-light.
 */
final class LuminancePreprocessor implements ConditionPreprocessor {
    private static final OptionSpec<Boolean> INVERT = OptionSpec.bool("invert", "dark on light instead of light on "
            + "dark").withDefault(false);

    @Override
    public String type() {
        return "luminance";
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(INVERT);
    }

    @Override
    public BufferedImage preprocess(BufferedImage input, Options options, int width, int height) {
        boolean invert = options.get(INVERT);
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
}

package com.example.montage.threshold;

import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * A drawing (dark strokes on light paper) as the white-on-black scribble a scribble ControlNet expects: the picture
 * (transparency on white paper) resized to the output size as Pillow does it, and each pixel whose brightness
 * (BT.601 luma) is below {@code level} made white, every other one black.
 */
final class ThresholdPreprocessor implements ConditionPreprocessor {
    static final String TYPE = "scribble";
    /** Declared, so Montage checks a control's {@code level=} before the generation starts. */
    private static final OptionSpec<Integer> LEVEL = OptionSpec.integer("level", 0, 255,
            "strokes are the pixels darker than this").withDefault(128);

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(LEVEL);
    }

    @Override
    public BufferedImage preprocess(BufferedImage input, Options options, int width, int height) {
        int level = options.get(LEVEL);
        RgbImage picture = PilResampler.resize(RgbImage.of(input, Color.WHITE), width, height,
                ResampleFilter.BILINEAR);
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int luma = (picture.get(x, y, 0) * 19595 + picture.get(x, y, 1) * 38470 + picture.get(x, y, 2) * 7471
                        + 0x8000) >> 16;
                out.setRGB(x, y, luma < level ? 0xFFFFFF : 0);
            }
        }
        return out;
    }
}

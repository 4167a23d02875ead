package dev.montage.controlnet.canny;

import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.PreprocessorOptions;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Map;

/**
 * The {@code canny} condition: white edges on black from OpenCV's Canny ({@link CannyEdgeDetector}).
 *
 * <p>Options: {@code low} and {@code high} thresholds (default 100 and 200, swapped when {@code low > high} as
 * OpenCV does), {@code l2} ({@code true}: L2 gradient magnitude, default {@code false}), {@code input}
 * ({@code rgb}, the default: the detector runs on the three colour channels as controlnet_aux's
 * {@code CannyDetector} and the diffusers examples do; {@code gray}: on OpenCV's fixed-point grey),
 * {@code resolution} ({@code output}, the default: the picture is first resized to the output size with Pillow's
 * bicubic filter and the edges are found there, so they stay one pixel wide and binary, as the golden ControlNet
 * case made its control image; {@code input}: the edges are found on the picture as given and the edge map is then
 * resized like any control image, with diffusers' Lanczos, as the diffusers examples do) and
 * {@code preprocess=none}.
 */
final class CannyPreprocessor implements ConditionPreprocessor {
    static final String TYPE = "canny";
    private static final List<String> OPTIONS = List.of("low", "high", "l2", "input", "resolution");
    private static final double MAX_THRESHOLD = 65535;

    @Override
    public String type() {
        return TYPE;
    }

    /** The options of one call, every one read and checked. */
    private record Settings(double low, double high, boolean l2, boolean gray, boolean atOutput, boolean passThrough) {
        static Settings of(Map<String, String> options) {
            PreprocessorOptions o = PreprocessorOptions.of(TYPE, options, OPTIONS);
            return new Settings(o.number("low", 100, 0, MAX_THRESHOLD), o.number("high", 200, 0, MAX_THRESHOLD),
                    o.flag("l2", false), o.choice("input", "rgb", "rgb", "gray").equals("gray"),
                    o.choice("resolution", "output", "output", "input").equals("output"), o.passThrough());
        }
    }

    @Override
    public void checkOptions(Map<String, String> options) {
        Settings.of(options);
    }

    @Override
    public BufferedImage preprocess(BufferedImage input, Map<String, String> options, int width, int height) {
        Settings s = Settings.of(options);
        RgbImage picture = RgbImage.of(input, null);
        if (!s.passThrough()) {
            RgbImage source = s.atOutput() ? PilResampler.resize(picture, width, height, ResampleFilter.BICUBIC)
                    : picture;
            picture = edges(source, s.low(), s.high(), s.l2(), s.gray());
        }
        return PilResampler.resize(picture, width, height, ResampleFilter.LANCZOS).toBufferedImage();
    }

    /** The edge map of a picture as an RGB image (255 on edges in all three channels, 0 elsewhere). */
    static RgbImage edges(RgbImage picture, double low, double high, boolean l2, boolean gray) {
        boolean[] edge = gray
                ? CannyEdgeDetector.detect(gray(picture), picture.width(), picture.height(), 1, low, high, l2)
                : CannyEdgeDetector.detect(picture.pixels(), picture.width(), picture.height(), 3, low, high, l2);
        byte[] out = new byte[edge.length * 3];
        for (int i = 0; i < edge.length; i++) {
            if (edge[i]) {
                out[3 * i] = (byte) 255;
                out[3 * i + 1] = (byte) 255;
                out[3 * i + 2] = (byte) 255;
            }
        }
        return new RgbImage(picture.width(), picture.height(), out);
    }

    /**
     * OpenCV's {@code cvtColor(RGB2GRAY)} in its integer fixed point (15 bits), equal to cv2 for every colour;
     * rounding {@code 0.299 R + 0.587 G + 0.114 B} in floating point would differ for some.
     */
    static byte[] gray(RgbImage picture) {
        byte[] rgb = picture.pixels();
        byte[] out = new byte[rgb.length / 3];
        for (int i = 0; i < out.length; i++) {
            int r = rgb[3 * i] & 0xFF;
            int g = rgb[3 * i + 1] & 0xFF;
            int b = rgb[3 * i + 2] & 0xFF;
            out[i] = (byte) ((9798 * r + 19235 * g + 3735 * b + 16384) >> 15);
        }
        return out;
    }
}

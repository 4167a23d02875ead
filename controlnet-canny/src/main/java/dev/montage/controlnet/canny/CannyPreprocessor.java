package dev.montage.controlnet.canny;

import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * The {@code canny} condition: white edges on black from OpenCV's Canny ({@link CannyEdgeDetector}).
 *
 * <p>Options: {@link #LOW} and {@link #HIGH} thresholds (swapped when {@code low > high} as OpenCV does),
 * {@link #L2}, {@link #INPUT} ({@code rgb}, the default: the detector runs on the three colour channels as
 * controlnet_aux's {@code CannyDetector} and the diffusers examples do; {@code gray}: on OpenCV's fixed-point grey)
 * and {@link #RESOLUTION} ({@code output}, the default: the picture is first resized to the output size with
 * Pillow's bicubic filter and the edges are found there, so they stay one pixel wide and binary, as the golden
 * ControlNet case made its control image; {@code input}: the edges are found on the picture as given and the edge
 * map is then resized like any control image, with diffusers' Lanczos, as the diffusers examples do).
 */
final class CannyPreprocessor implements ConditionPreprocessor {
    static final String TYPE = "canny";
    private static final double MAX_THRESHOLD = 65535;

    static final OptionSpec<Double> LOW = OptionSpec.number("low", 0, MAX_THRESHOLD,
            "lower hysteresis threshold of the gradient magnitude").withDefault(100.0);
    static final OptionSpec<Double> HIGH = OptionSpec.number("high", 0, MAX_THRESHOLD,
            "upper hysteresis threshold of the gradient magnitude").withDefault(200.0);
    static final OptionSpec<Boolean> L2 = OptionSpec.bool("l2", "L2 gradient magnitude instead of L1")
            .withDefault(false);
    static final OptionSpec<String> INPUT = OptionSpec.choice("input", List.of("rgb", "gray"),
            "detect on the three colour channels (as controlnet_aux) or on OpenCV's grey").withDefault("rgb");
    static final OptionSpec<String> RESOLUTION = OptionSpec.choice("resolution", List.of("output", "input"),
            "detect at the output size (sharp one-pixel edges) or on the picture as given, then resize the edge map")
            .withDefault("output");

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(LOW, HIGH, L2, INPUT, RESOLUTION);
    }

    @Override
    public BufferedImage preprocess(BufferedImage input, Options options, int width, int height) {
        RgbImage picture = RgbImage.of(input, null);
        RgbImage source = options.get(RESOLUTION).equals("output")
                ? PilResampler.resize(picture, width, height, ResampleFilter.BICUBIC) : picture;
        RgbImage edges = edges(source, options.get(LOW), options.get(HIGH), options.get(L2),
                options.get(INPUT).equals("gray"));
        return PilResampler.resize(edges, width, height, ResampleFilter.LANCZOS).toBufferedImage();
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

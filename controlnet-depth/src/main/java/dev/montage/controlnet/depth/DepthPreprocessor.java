package dev.montage.controlnet.depth;

import dev.montage.api.Cancellation;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.Raster;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@code depth} condition: a depth map (near = bright) min-max normalised to 0..255 over its full precision,
 * replicated into three channels and resized to the output size with diffusers' Lanczos.
 *
 * <p>The picture is the depth map itself: 8- or 16-bit grey (every bit used before normalising), or colour, taken
 * as Pillow's {@code convert("L")}. With {@code estimator=<id>} it is a photograph instead, and the registered
 * {@link DepthEstimator} of that id makes the depth map. {@code invert=true} swaps near and far (for maps where far
 * is bright).
 */
final class DepthPreprocessor implements ConditionPreprocessor {
    static final String TYPE = "depth";
    static final OptionSpec<Boolean> INVERT = OptionSpec.bool("invert", "swap near and far (for maps where far is "
            + "bright)").withDefault(false);

    private final Map<String, DepthEstimatorFactory> factories = new LinkedHashMap<>();
    private final OptionSpec<String> estimator;
    private final ComponentContext context;
    private final Map<String, DepthEstimator> estimators = new ConcurrentHashMap<>();

    /**
     * @param factories the estimators a control may select
     * @param context   what they are built with, on first use
     * @throws IllegalArgumentException when two factories share an id
     */
    DepthPreprocessor(List<DepthEstimatorFactory> factories, ComponentContext context) {
        for (DepthEstimatorFactory f : factories) {
            DepthEstimatorFactory other = this.factories.putIfAbsent(f.id(), f);
            if (other != null) {
                throw new IllegalArgumentException("two depth estimators have the id '" + f.id() + "': "
                        + other.getClass().getName() + " and " + f.getClass().getName());
            }
        }
        this.estimator = OptionSpec.choice("estimator", this.factories.keySet(), "the picture is a photograph, "
                + "and this installed depth estimator makes its depth map");
        this.context = context;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(INVERT, estimator);
    }

    @Override
    public BufferedImage preprocess(BufferedImage input, Options options, int width, int height) {
        Optional<String> estimatorId = options.find(estimator);
        DepthMap depth = estimatorId.isEmpty() ? read(input) : estimator(estimatorId.get()).estimate(input);
        RgbImage control = normalise(depth, options.get(INVERT));
        return PilResampler.resize(control, width, height, ResampleFilter.LANCZOS).toBufferedImage();
    }

    private DepthEstimator estimator(String id) {
        return estimators.computeIfAbsent(id, k -> factories.get(k).create(context));
    }

    /** The depth values of a depth-map picture, at their full precision. */
    static DepthMap read(BufferedImage picture) {
        ColorModel cm = picture.getColorModel();
        boolean grey = cm.getNumColorComponents() == 1 && cm.getColorSpace().getType() == ColorSpace.TYPE_GRAY;
        int w = picture.getWidth();
        int h = picture.getHeight();
        float[] values = new float[w * h];
        if (grey) {
            Raster raster = picture.getRaster();
            for (int y = 0; y < h; y++) {
                Cancellation.checkpoint();
                for (int x = 0; x < w; x++) {
                    values[y * w + x] = raster.getSample(x, y, 0);
                }
            }
        } else {
            RgbImage rgb = RgbImage.of(picture, null);
            for (int i = 0; i < values.length; i++) {
                int r = rgb.pixels()[3 * i] & 0xFF;
                int g = rgb.pixels()[3 * i + 1] & 0xFF;
                int b = rgb.pixels()[3 * i + 2] & 0xFF;
                // Pillow's convert("L"): ITU-R 601-2 luma in 16-bit fixed point, rounded
                values[i] = (19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16;
            }
        }
        return new DepthMap(w, h, values);
    }

    /**
     * {@code round(255 (d - min) / (max - min))} (halves up) in all three channels, or {@code 255 -} that when
     * inverted; a flat map (no depth information) becomes black.
     *
     * @throws IllegalArgumentException when the map holds a value that is not finite
     */
    static RgbImage normalise(DepthMap depth, boolean invert) {
        float[] v = depth.values();
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (float x : v) {
            if (!Float.isFinite(x)) {
                throw new IllegalArgumentException(TYPE + ": the depth map holds a non-finite value (" + x + ")");
            }
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        double range = max - min;
        byte[] out = new byte[v.length * 3];
        for (int i = 0; i < v.length; i++) {
            int level = range > 0 ? (int) Math.floor(255 * (v[i] - min) / range + 0.5) : 0;
            if (invert) {
                level = 255 - level;
            }
            out[3 * i] = (byte) level;
            out[3 * i + 1] = (byte) level;
            out[3 * i + 2] = (byte) level;
        }
        return new RgbImage(depth.width(), depth.height(), out);
    }
}

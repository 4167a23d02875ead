package dev.montage.controlnet.pose;

import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.PreprocessorOptions;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Map;

/**
 * The {@code pose} condition. OpenPose JSON keypoints, given as data ({@link #preprocessData}), are drawn as the
 * standard ControlNet skeleton at the output size ({@link SkeletonRenderer}). A picture ({@link #preprocess}) is
 * taken as an already rendered skeleton (there is no pose estimator built in) and only converted to RGB and resized
 * with diffusers' Lanczos, as with {@code preprocess=none}.
 *
 * <p>Options for keypoints: {@code stick_width} (half-width of the limbs, default 4 as the annotator draws;
 * {@code auto}: {@code round(4 max(W, H) / 512)}, for the SDXL pose models trained on skeletons drawn thicker at
 * higher resolutions) and {@code joint_radius} (default 4; {@code auto} scales the same way).
 */
final class PosePreprocessor implements ConditionPreprocessor {
    static final String TYPE = "pose";
    private static final List<String> OPTIONS = List.of("stick_width", "joint_radius");
    /** The resolution the standard sizes are meant for. */
    private static final double STANDARD_RESOLUTION = 512;
    private static final int MAX_SIZE = 1000;

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public void checkOptions(Map<String, String> options) {
        sizes(options, (int) STANDARD_RESOLUTION, (int) STANDARD_RESOLUTION);
    }

    @Override
    public BufferedImage preprocess(BufferedImage input, Map<String, String> options, int width, int height) {
        // every option is read, so that a malformed one is reported even though a picture does not use it
        sizes(options, width, height);
        return PilResampler.resize(RgbImage.of(input, null), width, height, ResampleFilter.LANCZOS)
                .toBufferedImage();
    }

    @Override
    public BufferedImage preprocessData(byte[] data, String source, Map<String, String> options, int width,
            int height) {
        Sizes sizes = sizes(options, width, height);
        if (sizes.passThrough()) {
            throw new IllegalArgumentException(TYPE + ": preprocess=none passes a rendered pose picture through; "
                    + source + " holds keypoints, not a picture");
        }
        return SkeletonRenderer.render(OpenPoseFile.parse(data, source), width, height, sizes.stickWidth(),
                sizes.jointRadius()).toBufferedImage();
    }

    /** The skeleton's sizes at the output size, and whether the options turn the preprocessor off. */
    private record Sizes(int stickWidth, int jointRadius, boolean passThrough) {
    }

    private static Sizes sizes(Map<String, String> options, int width, int height) {
        PreprocessorOptions o = PreprocessorOptions.of(TYPE, options, OPTIONS);
        return new Sizes(size(o, "stick_width", width, height), size(o, "joint_radius", width, height),
                o.passThrough());
    }

    /** A size option: a number of pixels, or {@code auto} to scale the standard 4 pixels with the resolution. */
    private static int size(PreprocessorOptions o, String key, int width, int height) {
        String value = o.string(key).orElse(null);
        if (value == null) {
            return SkeletonRenderer.STANDARD_SIZE;
        }
        if (value.equals("auto")) {
            return Math.max(1, (int) Math.round(SkeletonRenderer.STANDARD_SIZE * Math.max(width, height)
                    / STANDARD_RESOLUTION));
        }
        try {
            int pixels = Integer.parseInt(value.trim());
            if (pixels >= 1 && pixels <= MAX_SIZE) {
                return pixels;
            }
        } catch (NumberFormatException e) {
            // reported below with what is accepted
        }
        throw o.invalid(key, "an integer in 1.." + MAX_SIZE + " or auto", value);
    }
}

package dev.montage.controlnet.pose;

import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * The {@code pose} condition. OpenPose JSON keypoints, given as data ({@link #preprocessData}), are drawn as the
 * standard ControlNet skeleton at the output size ({@link SkeletonRenderer}). A picture ({@link #preprocess}) is
 * taken as an already rendered skeleton (there is no pose estimator built in) and only converted to RGB and resized
 * with diffusers' Lanczos, as with {@code preprocess=none}.
 *
 * <p>Options for keypoints: {@link #STICK_WIDTH} (half-width of the limbs, 4 pixels as the annotator draws;
 * {@code auto}: {@code round(4 max(W, H) / 512)}, for the SDXL pose models trained on skeletons drawn thicker at
 * higher resolutions) and {@link #JOINT_RADIUS} (4 pixels; {@code auto} scales the same way).
 */
final class PosePreprocessor implements ConditionPreprocessor {
    static final String TYPE = "pose";
    /** The resolution the standard sizes are meant for. */
    private static final double STANDARD_RESOLUTION = 512;
    private static final String SIZE = "auto|[1-9][0-9]{0,2}|1000";
    private static final String SIZE_FORM = "an integer in 1..1000 or auto";

    static final OptionSpec<String> STICK_WIDTH = OptionSpec.string("stick_width", SIZE, SIZE_FORM,
            "half-width of the limbs in pixels, or auto: scaled with the output size from 4 at 512")
            .withDefault(Integer.toString(SkeletonRenderer.STANDARD_SIZE));
    static final OptionSpec<String> JOINT_RADIUS = OptionSpec.string("joint_radius", SIZE, SIZE_FORM,
            "radius of the joints in pixels, or auto: scaled with the output size from 4 at 512")
            .withDefault(Integer.toString(SkeletonRenderer.STANDARD_SIZE));

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(STICK_WIDTH, JOINT_RADIUS);
    }

    @Override
    public BufferedImage preprocess(BufferedImage input, Options options, int width, int height) {
        return PilResampler.resize(RgbImage.of(input, null), width, height, ResampleFilter.LANCZOS)
                .toBufferedImage();
    }

    @Override
    public BufferedImage preprocessData(byte[] data, String source, Options options, int width, int height) {
        return SkeletonRenderer.render(OpenPoseFile.parse(data, source), width, height,
                size(options.get(STICK_WIDTH), width, height), size(options.get(JOINT_RADIUS), width, height))
                .toBufferedImage();
    }

    /** A size option's pixels: as given, or for {@code auto} the standard 4 pixels scaled with the resolution. */
    private static int size(String value, int width, int height) {
        if (value.equals("auto")) {
            return Math.max(1, (int) Math.round(SkeletonRenderer.STANDARD_SIZE * Math.max(width, height)
                    / STANDARD_RESOLUTION));
        }
        return Integer.parseInt(value);
    }
}

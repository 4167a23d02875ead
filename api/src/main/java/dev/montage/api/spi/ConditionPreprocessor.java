package dev.montage.api.spi;

import java.awt.image.BufferedImage;
import java.util.List;

/** Turns a user's control input (photo, depth map, keypoints render) into a ControlNet conditioning image. */
public interface ConditionPreprocessor {

    /** The control type it serves, e.g. {@code "canny"}. */
    String type();

    /**
     * The options a control of this type may give (a request's {@code controls[i].options}, {@code --control}'s
     * {@code key=value} parts). The host refuses a control with an option that is not declared or a value its
     * declaration does not accept before the generation starts, naming the option. The default declares none.
     */
    default List<OptionSpec<?>> options() {
        return List.of();
    }

    /**
     * @param input   the user's picture
     * @param options the control's options, read with {@link Options#get}
     * @param width   output width in pixels
     * @param height  output height in pixels
     * @return an RGB image of {@code width x height}
     */
    BufferedImage preprocess(BufferedImage input, Options options, int width, int height);

    /**
     * Preprocesses a control given as a data file rather than a picture, e.g. OpenPose JSON keypoints for
     * {@code pose}. The host reads the file (or takes the bytes from a request) and names where they came from, so
     * a plugin neither opens paths a remote request names nor needs to know where the data lives.
     *
     * @param data    the file's bytes
     * @param source  where the bytes came from (a file name, a request field), named in errors
     * @param options the control's options, read with {@link Options#get}
     * @param width   output width in pixels
     * @param height  output height in pixels
     * @return an RGB image of {@code width x height}
     * @throws IllegalArgumentException naming the source when the data is malformed, or (the default) saying that
     *     this type takes pictures only
     */
    default BufferedImage preprocessData(byte[] data, String source, Options options, int width, int height) {
        throw new IllegalArgumentException("control type '" + type() + "' takes a picture, not a data file ("
                + source + ")");
    }
}

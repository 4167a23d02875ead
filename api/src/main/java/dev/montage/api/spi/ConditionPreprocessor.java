package dev.montage.api.spi;

import java.awt.image.BufferedImage;
import java.util.Map;

/** Turns a user's control input (photo, depth map, keypoints render) into a ControlNet conditioning image. */
public interface ConditionPreprocessor {

    /** The control type it serves, e.g. {@code "canny"}. */
    String type();

    /**
     * Checks a control's options before a generation starts, so that a request with an unknown or malformed option
     * is refused when it is made rather than once the models are at work. The default accepts every option, leaving
     * the check to {@link #preprocess} and {@link #preprocessData}.
     *
     * @param options plugin-specific options from the request
     * @throws IllegalArgumentException naming an unknown or malformed option
     */
    default void checkOptions(Map<String, String> options) {
    }

    /**
     * @param input   the user's picture
     * @param options plugin-specific options from the request
     * @param width   output width in pixels
     * @param height  output height in pixels
     * @return an RGB image of {@code width x height}
     * @throws IllegalArgumentException naming an unknown or malformed option
     */
    BufferedImage preprocess(BufferedImage input, Map<String, String> options, int width, int height);

    /**
     * Preprocesses a control given as a data file rather than a picture, e.g. OpenPose JSON keypoints for
     * {@code pose}. The host reads the file (or takes the bytes from a request) and names where they came from, so
     * a plugin neither opens paths a remote request names nor needs to know where the data lives.
     *
     * @param data    the file's bytes
     * @param source  where the bytes came from (a file name, a request field), named in errors
     * @param options plugin-specific options from the request
     * @param width   output width in pixels
     * @param height  output height in pixels
     * @return an RGB image of {@code width x height}
     * @throws IllegalArgumentException naming the source when the data is malformed, naming an unknown or malformed
     *     option, or (the default) saying that this type takes pictures only
     */
    default BufferedImage preprocessData(byte[] data, String source, Map<String, String> options, int width,
            int height) {
        throw new IllegalArgumentException("control type '" + type() + "' takes a picture, not a data file ("
                + source + ")");
    }
}

package dev.montage.api.spi;

import java.awt.image.BufferedImage;
import java.util.Map;

/** Turns a user's control input (photo, depth map, keypoints render) into a ControlNet conditioning image. */
public interface ConditionPreprocessor {

    /** The control type it serves, e.g. {@code "canny"}. */
    String type();

    /**
     * @param input   the user's picture
     * @param options plugin-specific options from the request
     * @param width   output width in pixels
     * @param height  output height in pixels
     * @return an RGB image of {@code width x height}
     * @throws IllegalArgumentException naming an unknown or malformed option
     */
    BufferedImage preprocess(BufferedImage input, Map<String, String> options, int width, int height);
}

package dev.montage.controlnet.depth;

/**
 * Relative depth of a picture, larger values nearer (as MiDaS/DPT-style estimators output inverse depth and as
 * depth ControlNets expect after normalisation: near = bright).
 *
 * @param width  columns
 * @param height rows
 * @param values {@code width * height} finite values, row-major; only their order and spacing matter, the
 *               preprocessor normalises them to 0..255
 */
public record DepthMap(int width, int height, float[] values) {

    /**
     * @throws IllegalArgumentException when the size is not positive or the values do not fit it
     */
    public DepthMap {
        if (width <= 0 || height <= 0 || values.length != (long) width * height) {
            throw new IllegalArgumentException("a depth map of " + width + "x" + height + " needs "
                    + (long) width * height + " values, got " + values.length);
        }
    }
}

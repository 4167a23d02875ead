package dev.montage.api;

/**
 * The size whose starting noise a request keeps, as AUTOMATIC1111's "Seed resize from" does: the noise of the seed is
 * drawn at this size and set in the middle of the request's own noise (cropped where the request is smaller), so a
 * seed gives much the same picture at another size.
 *
 * @param width  the width the seed's noise is drawn at, a positive multiple of 8
 * @param height the height, likewise
 */
public record SeedResize(int width, int height) {

    /**
     * @throws IllegalArgumentException naming {@code seedResizeFrom} when a side is not a positive multiple of 8
     */
    public SeedResize {
        if (width <= 0 || height <= 0 || width % 8 != 0 || height % 8 != 0) {
            throw new IllegalArgumentException("seedResizeFrom must be a size of positive multiples of 8, got " + width
                    + "x" + height);
        }
    }
}

package dev.montage.api;

/**
 * A layout box in normalised image coordinates: {@code (x0, y0)} top-left, {@code (x1, y1)} bottom-right,
 * each in 0..1 with {@code x0 < x1} and {@code y0 < y1}.
 *
 * <p>The all-zero box {@link #NONE} is the one exception to the ordering rule: it means "no layout" for
 * this subject, as MS-Diffusion's unconditional half and un-boxed subjects use it.
 */
public record Box(double x0, double y0, double x1, double y1) {

    /** No layout guidance. */
    public static final Box NONE = new Box(0, 0, 0, 0);

    /** The whole image. */
    public static final Box FULL = new Box(0, 0, 1, 1);

    /**
     * @throws IllegalArgumentException naming the offending coordinate and the rule it breaks
     */
    public Box {
        requireUnit("x0", x0);
        requireUnit("y0", y0);
        requireUnit("x1", x1);
        requireUnit("y1", y1);
        boolean none = x0 == 0 && y0 == 0 && x1 == 0 && y1 == 0;
        if (!none && !(x0 < x1)) {
            throw new IllegalArgumentException("box.x0 must be < box.x1, got x0=" + x0 + ", x1=" + x1);
        }
        if (!none && !(y0 < y1)) {
            throw new IllegalArgumentException("box.y0 must be < box.y1, got y0=" + y0 + ", y1=" + y1);
        }
    }

    private static void requireUnit(String field, double v) {
        if (!(v >= 0 && v <= 1)) {
            throw new IllegalArgumentException("box." + field + " must be in 0..1, got " + v);
        }
    }

    /**
     * Parses {@code "x0,y0,x1,y1"} as written on command lines.
     *
     * @throws IllegalArgumentException when there are not four numbers or the box is invalid
     */
    public static Box parse(String text) {
        String[] parts = text.trim().split("\\s*,\\s*");
        if (parts.length != 4) {
            throw new IllegalArgumentException("box must be four numbers x0,y0,x1,y1 in 0..1, got '" + text + "'");
        }
        double[] v = new double[4];
        for (int i = 0; i < 4; i++) {
            try {
                v[i] = Double.parseDouble(parts[i]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("box must be four numbers x0,y0,x1,y1 in 0..1, got '" + text + "'", e);
            }
        }
        return new Box(v[0], v[1], v[2], v[3]);
    }

    /** Whether this is {@link #NONE}. */
    public boolean isNone() {
        return x0 == 0 && y0 == 0 && x1 == 0 && y1 == 0;
    }

    /** The four coordinates in checkpoint order {@code [x0, y0, x1, y1]}. */
    public float[] toArray() {
        return new float[] {(float) x0, (float) y0, (float) x1, (float) y1};
    }

    @Override
    public String toString() {
        return x0 + "," + y0 + "," + x1 + "," + y1;
    }
}

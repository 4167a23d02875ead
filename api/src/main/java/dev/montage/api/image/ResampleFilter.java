package dev.montage.api.image;

/**
 * The convolution filters of Pillow's {@code Image.resize}, with the ids of {@code PIL.Image.Resampling} that
 * image processor configurations store under {@code resample}.
 *
 * <p>The kernels are written exactly as Pillow evaluates them (same operations in the same order, in double), so
 * the resampling weights, and with them the 8-bit results, come out identical.
 */
public enum ResampleFilter {
    LANCZOS(1, 3.0) {
        @Override
        public double weight(double x) {
            return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
        }
    },
    BILINEAR(2, 1.0) {
        @Override
        public double weight(double x) {
            double ax = Math.abs(x);
            return ax < 1.0 ? 1.0 - ax : 0.0;
        }
    },
    /** Keys' cubic convolution with a = -0.5. */
    BICUBIC(3, 2.0) {
        @Override
        public double weight(double x) {
            double ax = Math.abs(x);
            if (ax < 1.0) {
                // ((a + 2) x - (a + 3)) x^2 + 1
                return (1.5 * ax - 2.5) * ax * ax + 1;
            }
            if (ax < 2.0) {
                // (((x - 5) x + 8) x - 4) a
                return (((ax - 5) * ax + 8) * ax - 4) * -0.5;
            }
            return 0.0;
        }
    },
    BOX(4, 0.5) {
        @Override
        public double weight(double x) {
            return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
        }
    },
    HAMMING(5, 1.0) {
        @Override
        public double weight(double x) {
            double ax = Math.abs(x);
            if (ax == 0.0) {
                return 1.0;
            }
            if (ax >= 1.0) {
                return 0.0;
            }
            double px = ax * Math.PI;
            // Pillow's constants are C floats
            return Math.sin(px) / px * (0.54f + 0.46f * Math.cos(px));
        }
    };

    private final int pilId;
    private final double support;

    ResampleFilter(int pilId, double support) {
        this.pilId = pilId;
        this.support = support;
    }

    /** The kernel at {@code x} (in units of input pixels at scale 1). */
    public abstract double weight(double x);

    /** Half-width of the kernel at scale 1. */
    public double support() {
        return support;
    }

    /**
     * The filter with a {@code PIL.Image.Resampling} id.
     *
     * @param source where the id comes from, for the message
     * @throws IllegalArgumentException for NEAREST (0) and unknown ids
     */
    public static ResampleFilter fromPilId(int id, String source) {
        for (ResampleFilter f : values()) {
            if (f.pilId == id) {
                return f;
            }
        }
        throw new IllegalArgumentException(source + ": 'resample' " + id + " is not supported; expected one of "
                + "1 (LANCZOS), 2 (BILINEAR), 3 (BICUBIC), 4 (BOX), 5 (HAMMING)");
    }

    private static double sinc(double x) {
        if (x == 0.0) {
            return 1.0;
        }
        double px = x * Math.PI;
        return Math.sin(px) / px;
    }
}

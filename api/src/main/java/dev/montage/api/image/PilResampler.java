package dev.montage.api.image;

/**
 * Pillow's {@code Image.resize} for 8-bit images ({@code ImagingResample}), reimplemented from its algorithm so
 * that resized pictures are identical byte for byte.
 *
 * <p>A separable convolution: first along rows (only for the rows the second pass will read), with the result
 * rounded to 8 bits, then along columns. For each output pixel the filter is centred on the output pixel's centre
 * mapped into the input, {@code (i + 0.5) * in / out}, and stretched by the scale when shrinking, so that
 * downscaling averages over every input pixel it covers (antialiasing). The weights of one output pixel are
 * normalised to sum 1, then turned into 22-bit fixed point (32 bits minus 8 for the values and 2 for the
 * overshoot of negative lobes) with rounding away from zero; each sum starts at one half and is clipped to 0..255.
 */
public final class PilResampler {
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private PilResampler() {
    }

    /**
     * The picture resized to {@code outWidth x outHeight}; the same picture when the size does not change.
     *
     * @throws IllegalArgumentException when the size is not positive
     */
    public static RgbImage resize(RgbImage in, int outWidth, int outHeight, ResampleFilter filter) {
        if (outWidth <= 0 || outHeight <= 0) {
            throw new IllegalArgumentException("cannot resize to " + outWidth + "x" + outHeight);
        }
        Kernel columns = Kernel.of(in.height(), outHeight, filter);
        RgbImage image = in;
        if (outWidth != in.width()) {
            int firstRow = columns.first[0];
            int endRow = columns.first[outHeight - 1] + columns.count[outHeight - 1];
            image = horizontal(in, Kernel.of(in.width(), outWidth, filter), firstRow, endRow - firstRow);
            columns = columns.shifted(-firstRow);
        }
        if (outHeight != in.height()) {
            image = vertical(image, columns);
        }
        return image;
    }

    /** Rows {@code firstRow ..< firstRow + rows} of the input, resampled along x. */
    private static RgbImage horizontal(RgbImage in, Kernel k, int firstRow, int rows) {
        int outWidth = k.first.length;
        byte[] src = in.pixels();
        byte[] out = new byte[outWidth * rows * 3];
        int[] sum = new int[3];
        for (int y = 0; y < rows; y++) {
            int rowStart = (firstRow + y) * in.width() * 3;
            for (int x = 0; x < outWidth; x++) {
                accumulate(src, rowStart + k.first[x] * 3, 3, k, x, sum);
                store(sum, out, (y * outWidth + x) * 3);
            }
        }
        return new RgbImage(outWidth, rows, out);
    }

    private static RgbImage vertical(RgbImage in, Kernel k) {
        int width = in.width();
        int outHeight = k.first.length;
        byte[] src = in.pixels();
        byte[] out = new byte[width * outHeight * 3];
        int[] sum = new int[3];
        for (int y = 0; y < outHeight; y++) {
            for (int x = 0; x < width; x++) {
                accumulate(src, (k.first[y] * width + x) * 3, width * 3, k, y, sum);
                store(sum, out, (y * width + x) * 3);
            }
        }
        return new RgbImage(width, outHeight, out);
    }

    /** Fixed-point weighted sum of the taps of output position {@code i}, starting at {@code start}. */
    private static void accumulate(byte[] src, int start, int stride, Kernel k, int i, int[] sum) {
        int[] w = k.weights[i];
        int s0 = 1 << (PRECISION_BITS - 1);
        int s1 = s0;
        int s2 = s0;
        for (int t = 0, p = start; t < k.count[i]; t++, p += stride) {
            s0 += (src[p] & 0xFF) * w[t];
            s1 += (src[p + 1] & 0xFF) * w[t];
            s2 += (src[p + 2] & 0xFF) * w[t];
        }
        sum[0] = s0;
        sum[1] = s1;
        sum[2] = s2;
    }

    private static void store(int[] sum, byte[] out, int at) {
        for (int c = 0; c < 3; c++) {
            out[at + c] = (byte) Math.max(0, Math.min(255, sum[c] >> PRECISION_BITS));
        }
    }

    /**
     * The taps of one pass: output position i reads {@code count[i]} input pixels from {@code first[i]} with
     * fixed-point {@code weights[i]}.
     */
    private record Kernel(int[] first, int[] count, int[][] weights) {

        static Kernel of(int inSize, int outSize, ResampleFilter filter) {
            double scale = (double) inSize / outSize;
            double filterScale = Math.max(scale, 1.0);
            double support = filter.support() * filterScale;
            double invFilterScale = 1.0 / filterScale;
            int[] first = new int[outSize];
            int[] count = new int[outSize];
            int[][] weights = new int[outSize][];
            for (int i = 0; i < outSize; i++) {
                double center = (i + 0.5) * scale;
                // truncation toward zero, then clamped into the input, as Pillow does
                int min = Math.max(0, (int) (center - support + 0.5));
                int max = Math.min(inSize, (int) (center + support + 0.5));
                int n = max - min;
                double[] w = new double[n];
                double total = 0.0;
                for (int t = 0; t < n; t++) {
                    w[t] = filter.weight((t + min - center + 0.5) * invFilterScale);
                    total += w[t];
                }
                int[] fixed = new int[n];
                for (int t = 0; t < n; t++) {
                    double normalised = total != 0.0 ? w[t] / total : w[t];
                    fixed[t] = normalised < 0
                            ? (int) (-0.5 + normalised * (1 << PRECISION_BITS))
                            : (int) (0.5 + normalised * (1 << PRECISION_BITS));
                }
                first[i] = min;
                count[i] = n;
                weights[i] = fixed;
            }
            return new Kernel(first, count, weights);
        }

        Kernel shifted(int offset) {
            int[] moved = first.clone();
            for (int i = 0; i < moved.length; i++) {
                moved[i] += offset;
            }
            return new Kernel(moved, count, weights);
        }
    }
}

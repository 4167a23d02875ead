package dev.montage.controlnet.canny;

import dev.montage.api.Cancellation;

/**
 * OpenCV 4.6's {@code cv2.Canny(image, threshold1, threshold2, apertureSize=3, L2gradient)} reimplemented step by
 * step, so that edge maps come out identical bit for bit (golden README section 8).
 *
 * <p>There is no smoothing: OpenCV's Canny does not blur. Gradients are 3x3 integer Sobel sums with replicated
 * borders; with several channels each pixel takes its gradient from the channel of largest magnitude (the first
 * on ties). Non-maximum suppression compares along one of four directions chosen with {@code tan(22.5 deg)} in
 * 15-bit fixed point, with the asymmetric {@code >} / {@code >=} that decides which pixel of a plateau survives,
 * and treats magnitudes outside the image as 0. Hysteresis keeps every candidate ({@code m > low}) that is
 * 8-connected through candidates to a strong pixel ({@code m > high}).
 */
final class CannyEdgeDetector {
    /** {@code round(tan(22.5 deg) * 2^15)}, OpenCV's constant. */
    private static final int TG22 = 13573;
    /** OpenCV clamps L2 thresholds to this before squaring them. */
    private static final double L2_THRESHOLD_LIMIT = 32767;

    private static final byte NONE = 0;
    private static final byte CANDIDATE = 1;
    private static final byte STRONG = 2;

    private CannyEdgeDetector() {
    }

    /**
     * Edges of an 8-bit image.
     *
     * @param pixels     row-major samples, {@code channels} interleaved per pixel
     * @param threshold1 one hysteresis threshold (the smaller of the two is the low one)
     * @param threshold2 the other
     * @param l2         compare {@code dx^2 + dy^2} with squared thresholds instead of {@code |dx| + |dy|}
     * @return {@code width * height} flags, true on edges
     */
    static boolean[] detect(byte[] pixels, int width, int height, int channels, double threshold1,
            double threshold2, boolean l2) {
        if (pixels.length != width * height * channels) {
            throw new IllegalArgumentException("expected " + width + "x" + height + "x" + channels + " samples, got "
                    + pixels.length);
        }
        int n = width * height;
        int[] dx = new int[n];
        int[] dy = new int[n];
        int[] magnitude = new int[n];
        gradients(pixels, width, height, channels, l2, dx, dy, magnitude);

        double t1 = Math.min(threshold1, threshold2);
        double t2 = Math.max(threshold1, threshold2);
        if (l2) {
            t1 = square(Math.min(L2_THRESHOLD_LIMIT, t1));
            t2 = square(Math.min(L2_THRESHOLD_LIMIT, t2));
        }
        int low = (int) Math.floor(t1);
        int high = (int) Math.floor(t2);
        return hysteresis(suppress(dx, dy, magnitude, width, height, low, high), width, height);
    }

    private static double square(double t) {
        return t > 0 ? t * t : t;
    }

    /** Sobel derivatives and magnitude of the strongest channel, per pixel. */
    private static void gradients(byte[] pixels, int width, int height, int channels, boolean l2, int[] dxOut,
            int[] dyOut, int[] magOut) {
        for (int y = 0; y < height; y++) {
            Cancellation.checkpoint();
            int up = Math.max(y - 1, 0) * width;
            int mid = y * width;
            int down = Math.min(y + 1, height - 1) * width;
            for (int x = 0; x < width; x++) {
                int left = Math.max(x - 1, 0);
                int right = Math.min(x + 1, width - 1);
                int best = -1;
                for (int c = 0; c < channels; c++) {
                    int ul = sample(pixels, up + left, channels, c);
                    int u = sample(pixels, up + x, channels, c);
                    int ur = sample(pixels, up + right, channels, c);
                    int l = sample(pixels, mid + left, channels, c);
                    int r = sample(pixels, mid + right, channels, c);
                    int dl = sample(pixels, down + left, channels, c);
                    int d = sample(pixels, down + x, channels, c);
                    int dr = sample(pixels, down + right, channels, c);
                    int gx = (ur + 2 * r + dr) - (ul + 2 * l + dl);
                    int gy = (dl + 2 * d + dr) - (ul + 2 * u + ur);
                    int m = l2 ? gx * gx + gy * gy : Math.abs(gx) + Math.abs(gy);
                    if (m > best) {
                        best = m;
                        dxOut[mid + x] = gx;
                        dyOut[mid + x] = gy;
                    }
                }
                magOut[mid + x] = best;
            }
        }
    }

    private static int sample(byte[] pixels, int pixel, int channels, int c) {
        return pixels[pixel * channels + c] & 0xFF;
    }

    /** Non-maximum suppression and double threshold: each pixel NONE, CANDIDATE or STRONG. */
    private static byte[] suppress(int[] dx, int[] dy, int[] magnitude, int width, int height, int low, int high) {
        byte[] state = new byte[width * height];
        for (int y = 0; y < height; y++) {
            Cancellation.checkpoint();
            for (int x = 0; x < width; x++) {
                int i = y * width + x;
                int m = magnitude[i];
                if (m <= low) {
                    continue;
                }
                int gx = dx[i];
                int gy = dy[i];
                int ax = Math.abs(gx);
                int ay = Math.abs(gy) << 15;
                int tg22x = ax * TG22;
                boolean keep;
                if (ay < tg22x) {
                    // roughly horizontal gradient: compare with the left and right neighbours
                    keep = m > at(magnitude, width, height, x - 1, y) && m >= at(magnitude, width, height, x + 1, y);
                } else if (ay > tg22x + (ax << 16)) {
                    // beyond tan(67.5 deg): compare with the neighbours above and below
                    keep = m > at(magnitude, width, height, x, y - 1) && m >= at(magnitude, width, height, x, y + 1);
                } else {
                    int s = (gx ^ gy) < 0 ? -1 : 1;
                    keep = m > at(magnitude, width, height, x - s, y - 1)
                            && m > at(magnitude, width, height, x + s, y + 1);
                }
                if (keep) {
                    state[i] = m > high ? STRONG : CANDIDATE;
                }
            }
        }
        return state;
    }

    /** The magnitude at (x, y), 0 outside the image. */
    private static int at(int[] magnitude, int width, int height, int x, int y) {
        return x < 0 || y < 0 || x >= width || y >= height ? 0 : magnitude[y * width + x];
    }

    /** Every candidate 8-connected through candidates to a strong pixel, and the strong pixels. */
    private static boolean[] hysteresis(byte[] state, int width, int height) {
        boolean[] edge = new boolean[state.length];
        int[] stack = new int[state.length];
        int top = 0;
        for (int i = 0; i < state.length; i++) {
            if (state[i] == STRONG) {
                edge[i] = true;
                stack[top++] = i;
            }
        }
        while (top > 0) {
            int i = stack[--top];
            int x = i % width;
            int y = i / width;
            for (int ny = Math.max(y - 1, 0); ny <= Math.min(y + 1, height - 1); ny++) {
                for (int nx = Math.max(x - 1, 0); nx <= Math.min(x + 1, width - 1); nx++) {
                    int j = ny * width + nx;
                    if (!edge[j] && state[j] != NONE) {
                        edge[j] = true;
                        stack[top++] = j;
                    }
                }
            }
        }
        return edge;
    }
}

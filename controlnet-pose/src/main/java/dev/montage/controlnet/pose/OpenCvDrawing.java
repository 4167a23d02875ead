package dev.montage.controlnet.pose;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;

/**
 * The OpenCV 4.6 drawing primitives the skeleton uses, for 8-bit images, no anti-aliasing and no sub-pixel shift,
 * reimplemented from the description in golden README section 9 so that the pixels come out identical:
 * {@code ellipse2Poly}, {@code fillConvexPoly}, 8-connected lines and filled circles.
 */
final class OpenCvDrawing {
    /** 16.16 fixed point of the polygon scan fill. */
    private static final int XY_SHIFT = 16;
    private static final long XY_ONE = 1L << XY_SHIFT;

    /**
     * OpenCV's sine table: {@code sin(k deg)} rounded to 7 decimals and stored as float32, k = 0..450, so that
     * {@code cos(k) = SIN[450 - k]}.
     */
    private static final float[] SIN = new float[451];

    static {
        for (int k = 0; k < SIN.length; k++) {
            double exact = Math.sin(Math.toRadians(k));
            SIN[k] = (float) new BigDecimal(exact).setScale(7, RoundingMode.HALF_EVEN).doubleValue();
        }
    }

    private OpenCvDrawing() {
    }

    /**
     * {@code cv2.ellipse2Poly(center, axes, angle, 0, 360, 1)}: the outline of a full ellipse, one point per degree,
     * rounded half to even, consecutive duplicates dropped; two copies of the centre when one point remains.
     *
     * @return points as {x, y}
     */
    static int[][] ellipse2Poly(int cx, int cy, int a, int b, int angle) {
        while (angle < 0) {
            angle += 360;
        }
        while (angle > 360) {
            angle -= 360;
        }
        float alpha = SIN[450 - angle];
        float beta = SIN[angle];
        List<int[]> points = new ArrayList<>();
        int[] previous = null;
        for (int i = 0; i <= 360; i++) {
            double x = a * (double) SIN[450 - i];
            double y = b * (double) SIN[i];
            int px = (int) Math.rint(cx + x * alpha - y * beta);
            int py = (int) Math.rint(cy + x * beta + y * alpha);
            if (previous == null || previous[0] != px || previous[1] != py) {
                previous = new int[] {px, py};
                points.add(previous);
            }
        }
        if (points.size() == 1) {
            return new int[][] {{cx, cy}, {cx, cy}};
        }
        return points.toArray(new int[0][]);
    }

    /**
     * {@code cv2.fillConvexPoly(img, points, color)} with 8-connected edges: the outline drawn as lines (from the
     * last vertex to the first, then along the list), then rows scan-filled between two chains walking the vertex
     * list forwards and backwards from the topmost vertex, x in 16.16 fixed point.
     */
    static void fillConvexPoly(Canvas canvas, int[][] v, int[] color) {
        int n = v.length;
        int imin = 0;
        int xmin = v[0][0];
        int xmax = xmin;
        int ymin = v[0][1];
        int ymax = ymin;
        int[] p0 = v[n - 1];
        for (int i = 0; i < n; i++) {
            int[] p = v[i];
            if (p[1] < ymin) {
                ymin = p[1];
                imin = i;
            }
            ymax = Math.max(ymax, p[1]);
            xmax = Math.max(xmax, p[0]);
            xmin = Math.min(xmin, p[0]);
            line(canvas, p0[0], p0[1], p[0], p[1], color);
            p0 = p;
        }
        if (n < 3 || xmax < 0 || ymax < 0 || xmin >= canvas.width || ymin >= canvas.height) {
            return;
        }
        ymax = Math.min(ymax, canvas.height - 1);
        Chain[] chains = {new Chain(imin, 1, ymin), new Chain(imin, n - 1, ymin)};
        int edges = n;
        int y = ymin;
        do {
            for (Chain chain : chains) {
                if (y < chain.yEnd) {
                    continue;
                }
                // advance to the next segment of this chain that reaches below row y
                int idx0 = chain.idx;
                int idx = (idx0 + chain.step) % n;
                while (edges-- > 0) {
                    int ty = v[idx][1];
                    if (ty > y) {
                        long xs = (long) v[idx0][0] << XY_SHIFT;
                        long xe = (long) v[idx][0] << XY_SHIFT;
                        chain.yEnd = ty;
                        chain.dx = ((xe - xs) * 2 + (ty - y)) / (2L * (ty - y));
                        chain.x = xs;
                        chain.idx = idx;
                        break;
                    }
                    idx0 = idx;
                    idx = (idx + chain.step) % n;
                }
            }
            if (edges < 0) {
                break;
            }
            long rows = 1;
            if (y >= 0) {
                Chain left = chains[0].x > chains[1].x ? chains[1] : chains[0];
                Chain right = left == chains[0] ? chains[1] : chains[0];
                int x1 = (int) ((left.x + (XY_ONE >> 1)) >> XY_SHIFT);
                int x2 = (int) ((right.x + (XY_ONE >> 1)) >> XY_SHIFT);
                if (x2 >= 0 && x1 < canvas.width) {
                    canvas.hline(y, Math.max(x1, 0), Math.min(x2, canvas.width - 1), color);
                }
            } else {
                // rows above the image draw nothing: step over them up to the image or the next vertex at once
                // (OpenCV walks them one by one, 2^31 rows for a limb from far outside); the wrapping long
                // arithmetic gives the same x as that many single steps
                rows = (long) Math.min(0, Math.min(chains[0].yEnd, chains[1].yEnd)) - y;
            }
            chains[0].x += rows * chains[0].dx;
            chains[1].x += rows * chains[1].dx;
            y += (int) (rows - 1);
        } while (++y <= ymax);
    }

    /** One side of the scan fill: the current segment ends at vertex {@code idx}, row {@code yEnd}. */
    private static final class Chain {
        int idx;
        final int step;
        int yEnd;
        long x = -XY_ONE;
        long dx;

        Chain(int idx, int step, int yEnd) {
            this.idx = idx;
            this.step = step;
            this.yEnd = yEnd;
        }
    }

    /**
     * An 8-connected Bresenham line ({@code cv::LineIterator}, left to right): clipped to the image first, walked
     * along its major axis with {@code err = dx - 2 dy}, stepping the minor axis when {@code err < 0}.
     */
    static void line(Canvas canvas, int x1, int y1, int x2, int y2, int[] color) {
        long[] p = {x1, y1, x2, y2};
        if (!clip(canvas.width, canvas.height, p)) {
            return;
        }
        int ax = (int) p[0];
        int ay = (int) p[1];
        int bx = (int) p[2];
        int by = (int) p[3];
        if (bx < ax) {
            int t = ax;
            ax = bx;
            bx = t;
            t = ay;
            ay = by;
            by = t;
        }
        int dx = bx - ax;
        int dy = by - ay;
        int stepY = 1;
        if (dy < 0) {
            dy = -dy;
            stepY = -1;
        }
        boolean vertical = dy > dx;
        int major = vertical ? dy : dx;
        int minor = vertical ? dx : dy;
        int err = major - 2 * minor;
        int x = ax;
        int y = ay;
        for (int i = 0; i <= major; i++) {
            canvas.set(x, y, color);
            boolean stepMinor = err < 0;
            err += stepMinor ? 2 * major - 2 * minor : -2 * minor;
            if (vertical) {
                y += stepY;
                x += stepMinor ? 1 : 0;
            } else {
                x += 1;
                y += stepMinor ? stepY : 0;
            }
        }
    }

    /**
     * OpenCV's {@code clipLine}: Cohen-Sutherland against the image with truncating integer division; endpoints
     * {x1, y1, x2, y2} are moved in place.
     *
     * @return false when the line lies entirely outside
     */
    private static boolean clip(int width, int height, long[] p) {
        long right = width - 1;
        long bottom = height - 1;
        int c1 = code(p[0], p[1], right, bottom);
        int c2 = code(p[2], p[3], right, bottom);
        if ((c1 & c2) == 0 && (c1 | c2) != 0) {
            if ((c1 & 12) != 0) {
                long a = c1 < 8 ? 0 : bottom;
                p[0] += (a - p[1]) * (p[2] - p[0]) / (p[3] - p[1]);
                p[1] = a;
                c1 = code(p[0], 0, right, bottom);
            }
            if ((c2 & 12) != 0) {
                long a = c2 < 8 ? 0 : bottom;
                p[2] += (a - p[3]) * (p[2] - p[0]) / (p[3] - p[1]);
                p[3] = a;
                c2 = code(p[2], 0, right, bottom);
            }
            if ((c1 & c2) == 0 && (c1 | c2) != 0) {
                if (c1 != 0) {
                    long a = c1 == 1 ? 0 : right;
                    p[1] += (a - p[0]) * (p[3] - p[1]) / (p[2] - p[0]);
                    p[0] = a;
                    c1 = 0;
                }
                if (c2 != 0) {
                    long a = c2 == 1 ? 0 : right;
                    p[3] += (a - p[2]) * (p[3] - p[1]) / (p[2] - p[0]);
                    p[2] = a;
                    c2 = 0;
                }
            }
        }
        return (c1 | c2) == 0;
    }

    /** Outcode: 1 left, 2 right, 4 above, 8 below. */
    private static int code(long x, long y, long right, long bottom) {
        return (x < 0 ? 1 : 0) + (x > right ? 2 : 0) + (y < 0 ? 4 : 0) + (y > bottom ? 8 : 0);
    }

    /**
     * {@code cv2.circle(img, center, radius, color, thickness=-1)}: the midpoint algorithm, filling for each step
     * the rows {@code cy +- dy} over {@code cx +- dx} and {@code cy +- dx} over {@code cx +- dy}, clipped.
     */
    static void fillCircle(Canvas canvas, int cx, int cy, int radius, int[] color) {
        int err = 0;
        int dx = radius;
        int dy = 0;
        int plus = 1;
        int minus = 2 * radius - 1;
        while (dx >= dy) {
            span(canvas, cy - dy, cx - dx, cx + dx, color);
            span(canvas, cy + dy, cx - dx, cx + dx, color);
            span(canvas, cy - dx, cx - dy, cx + dy, color);
            span(canvas, cy + dx, cx - dy, cx + dy, color);
            dy++;
            err += plus;
            plus += 2;
            if (err > 0) {
                err -= minus;
                dx--;
                minus -= 2;
            }
        }
    }

    private static void span(Canvas canvas, int y, int x1, int x2, int[] color) {
        if (y < 0 || y >= canvas.height || x2 < 0 || x1 >= canvas.width) {
            return;
        }
        canvas.hline(y, Math.max(x1, 0), Math.min(x2, canvas.width - 1), color);
    }
}

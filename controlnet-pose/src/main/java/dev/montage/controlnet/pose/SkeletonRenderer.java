package dev.montage.controlnet.pose;

import dev.montage.api.image.RgbImage;

/**
 * Draws COCO-18 body keypoints as the standard ControlNet OpenPose skeleton (controlnet_aux's body drawing,
 * golden README section 9): on black, for each person in order first every limb as a filled ellipse of its
 * colour dimmed to 60 %, then every joint as a filled circle of its colour.
 *
 * <p>Coordinates are normalised by the canvas the keypoints refer to and multiplied back by the output size, in
 * double precision and truncated, as the annotator does; with an output of the canvas's size this reproduces its
 * pixels exactly, and at another size the skeleton is drawn sharp at that size rather than resampled.
 */
final class SkeletonRenderer {
    /** Joint pairs of the 17 limbs (0-based), in drawing order. */
    private static final int[][] LIMBS = {{1, 2}, {1, 5}, {2, 3}, {3, 4}, {5, 6}, {6, 7}, {1, 8}, {8, 9}, {9, 10},
        {1, 11}, {11, 12}, {12, 13}, {1, 0}, {0, 14}, {14, 16}, {0, 15}, {15, 17}};
    /** Colour of limb i and joint i (RGB). */
    private static final int[][] COLORS = {{255, 0, 0}, {255, 85, 0}, {255, 170, 0}, {255, 255, 0}, {170, 255, 0},
        {85, 255, 0}, {0, 255, 0}, {0, 255, 85}, {0, 255, 170}, {0, 255, 255}, {0, 170, 255}, {0, 85, 255},
        {0, 0, 255}, {85, 0, 255}, {170, 0, 255}, {255, 0, 255}, {255, 0, 170}, {255, 0, 85}};
    private static final double LIMB_DIMMING = 0.6;

    /** The standard half-width of a limb ellipse and radius of a joint, in pixels. */
    static final int STANDARD_SIZE = 4;

    private SkeletonRenderer() {
    }

    /**
     * @param stickWidth  half-width of the limb ellipses (the annotator's 4)
     * @param jointRadius radius of the joint circles (the annotator's 4)
     */
    static RgbImage render(OpenPoseFile pose, int width, int height, int stickWidth, int jointRadius) {
        double canvasWidth = pose.canvasWidth() > 0 ? pose.canvasWidth() : width;
        double canvasHeight = pose.canvasHeight() > 0 ? pose.canvasHeight() : height;
        Canvas canvas = new Canvas(width, height);
        for (double[] keypoints : pose.people()) {
            double[] xn = new double[OpenPoseFile.KEYPOINTS];
            double[] yn = new double[OpenPoseFile.KEYPOINTS];
            boolean[] present = new boolean[OpenPoseFile.KEYPOINTS];
            for (int k = 0; k < OpenPoseFile.KEYPOINTS; k++) {
                // confidence 0 and -1 both mean "not detected"
                present[k] = keypoints[3 * k + 2] > 0;
                xn[k] = keypoints[3 * k] / canvasWidth;
                yn[k] = keypoints[3 * k + 1] / canvasHeight;
            }
            for (int i = 0; i < LIMBS.length; i++) {
                int a = LIMBS[i][0];
                int b = LIMBS[i][1];
                if (present[a] && present[b]) {
                    drawLimb(canvas, xn[a] * width, yn[a] * height, xn[b] * width, yn[b] * height, stickWidth,
                            dimmed(COLORS[i]));
                }
            }
            for (int k = 0; k < OpenPoseFile.KEYPOINTS; k++) {
                if (present[k]) {
                    OpenCvDrawing.fillCircle(canvas, (int) (xn[k] * width), (int) (yn[k] * height), jointRadius,
                            COLORS[k]);
                }
            }
        }
        return canvas.toImage();
    }

    /** An ellipse from joint a to joint b, its long axis half the distance, its short one {@code stickWidth}. */
    private static void drawLimb(Canvas canvas, double xa, double ya, double xb, double yb, int stickWidth,
            int[] color) {
        double meanY = (ya + yb) / 2;
        double meanX = (xa + xb) / 2;
        double length = Math.sqrt((ya - yb) * (ya - yb) + (xa - xb) * (xa - xb));
        double angle = Math.toDegrees(Math.atan2(ya - yb, xa - xb));
        int[][] polygon = OpenCvDrawing.ellipse2Poly((int) meanX, (int) meanY, (int) (length / 2), stickWidth,
                (int) angle);
        OpenCvDrawing.fillConvexPoly(canvas, polygon, color);
    }

    private static int[] dimmed(int[] color) {
        return new int[] {(int) (color[0] * LIMB_DIMMING), (int) (color[1] * LIMB_DIMMING),
            (int) (color[2] * LIMB_DIMMING)};
    }
}

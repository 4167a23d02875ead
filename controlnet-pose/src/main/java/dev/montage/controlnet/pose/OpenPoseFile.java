package dev.montage.controlnet.pose;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The body keypoints of an OpenPose JSON file: {@code {"people": [{"pose_keypoints_2d": [x0, y0, c0, ...]}],
 * "canvas_width": W, "canvas_height": H}}, 18 COCO keypoints per person in pixel coordinates of the canvas.
 *
 * @param people       per person {@value #KEYPOINTS} x (x, y, confidence)
 * @param canvasWidth  the canvas the coordinates refer to, 0 when the file does not say
 * @param canvasHeight likewise
 */
record OpenPoseFile(List<double[]> people, int canvasWidth, int canvasHeight) {
    /** COCO-18 body keypoints. */
    static final int KEYPOINTS = 18;
    /** OpenPose's BODY_25 model writes 25 keypoints in another order. */
    private static final int BODY_25 = 25;

    /**
     * @param source named in errors (the file name)
     * @throws IllegalArgumentException naming the source and what is missing or malformed
     */
    static OpenPoseFile parse(byte[] data, String source) {
        if (!(Json.parse(data, source) instanceof Map<?, ?> root) || !(root.get("people") instanceof List<?> list)) {
            throw new IllegalArgumentException(source + ": not OpenPose keypoints: expected a JSON object with a "
                    + "'people' array");
        }
        List<double[]> people = new ArrayList<>();
        for (int p = 0; p < list.size(); p++) {
            String where = source + ": people[" + p + "]";
            if (!(list.get(p) instanceof Map<?, ?> person) || !(person.get("pose_keypoints_2d") instanceof List<?> v)) {
                throw new IllegalArgumentException(where + " has no 'pose_keypoints_2d' array");
            }
            if (v.size() == BODY_25 * 3) {
                throw new IllegalArgumentException(where + ": 25 keypoints (OpenPose BODY_25); the ControlNet "
                        + "skeleton needs the 18 COCO keypoints (54 numbers)");
            }
            if (v.size() != KEYPOINTS * 3) {
                throw new IllegalArgumentException(where + ": 'pose_keypoints_2d' must hold 54 numbers (18 COCO "
                        + "keypoints as x, y, confidence), got " + v.size());
            }
            double[] values = new double[v.size()];
            for (int i = 0; i < values.length; i++) {
                if (!(v.get(i) instanceof Double d) || !Double.isFinite(d)) {
                    throw new IllegalArgumentException(where + ": 'pose_keypoints_2d'[" + i + "] is not a number: "
                            + v.get(i));
                }
                values[i] = d;
            }
            people.add(values);
        }
        return new OpenPoseFile(people, size(root, "canvas_width", source), size(root, "canvas_height", source));
    }

    private static int size(Map<?, ?> root, String key, String source) {
        Object value = root.get(key);
        if (value == null) {
            return 0;
        }
        if (!(value instanceof Double d) || d != Math.rint(d) || d < 1 || d > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(source + ": '" + key + "' must be a positive integer, got " + value);
        }
        return d.intValue();
    }
}

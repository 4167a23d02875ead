package dev.montage.controlnet.pose;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

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
    /** OpenPose files nest 3 deep; a keypoints file is untrusted input, so deeper documents are refused early. */
    static final int MAX_DEPTH = 64;
    /** OpenPose's BODY_25 model writes 25 keypoints in another order. */
    private static final int BODY_25 = 25;

    private static final ObjectReader READER = JsonMapper.builder(JsonFactory.builder()
                    .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
                    .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build().reader();

    /**
     * @param source named in errors (the file name)
     * @throws IllegalArgumentException naming the source and what is missing or malformed
     */
    static OpenPoseFile parse(byte[] data, String source) {
        JsonNode root = read(data, source);
        JsonNode list = root.path("people");
        if (!root.isObject() || !list.isArray()) {
            throw new IllegalArgumentException(source + ": not OpenPose keypoints: expected a JSON object with a "
                    + "'people' array");
        }
        List<double[]> people = new ArrayList<>();
        for (int p = 0; p < list.size(); p++) {
            String where = source + ": people[" + p + "]";
            JsonNode v = list.get(p).path("pose_keypoints_2d");
            if (!v.isArray()) {
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
                JsonNode n = v.get(i);
                if (!n.isNumber() || !Double.isFinite(n.doubleValue())) {
                    throw new IllegalArgumentException(where + ": 'pose_keypoints_2d'[" + i + "] is not a number: "
                            + n);
                }
                values[i] = n.doubleValue();
            }
            people.add(values);
        }
        return new OpenPoseFile(people, size(root, "canvas_width", source), size(root, "canvas_height", source));
    }

    private static JsonNode read(byte[] data, String source) {
        try (JsonParser parser = READER.createParser(data)) {
            try {
                JsonNode root = READER.readTree(parser);
                return root == null ? MissingNode.getInstance() : root;
            } catch (JsonProcessingException e) {
                // a broken limit (nesting) carries no location of its own: the parser stopped where it was broken
                JsonLocation at = e.getLocation() != null ? e.getLocation() : parser.currentLocation();
                throw new IllegalArgumentException(source + ": malformed JSON at line " + at.getLineNr() + ", column "
                        + at.getColumnNr() + ": " + e.getOriginalMessage(), e);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(source + ": cannot read", e);
        }
    }

    private static int size(JsonNode root, String key, String source) {
        JsonNode value = root.path(key);
        if (value.isMissingNode() || value.isNull()) {
            return 0;
        }
        double d = value.doubleValue();
        if (!value.isNumber() || d != Math.rint(d) || d < 1 || d > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(source + ": '" + key + "' must be a positive integer, got " + value);
        }
        return (int) d;
    }
}

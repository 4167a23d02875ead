package dev.montage.dist;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.Control;
import dev.montage.api.ControlData;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Parses {@code type=canny,image=edges.png[,scale=0.8][,start=0][,end=1][,model=DIR][,preprocess=none]
 * [,context=full][,key=value...]} as given to {@code --control}; instead of {@code image=} a control may give a data
 * file its preprocessor renders, {@code keypoints=pose.json} (OpenPose JSON for {@code pose}). Keys other than
 * {@code type}, {@code image}, {@code keypoints}, {@code scale}, {@code start}, {@code end} and {@code model} are
 * options of the control (the pipeline's {@code preprocess} and {@code context}, the condition plugin's own such as
 * {@code low}/{@code high}).
 *
 * @param control the control
 * @param model   the ControlNet folder given with {@code model=}, if any
 * @param source  how a request gives its input again: the keypoints inline, or the picture's file and SHA-256
 */
record ControlSpec(Control control, Optional<Path> model, Map<String, Object> source) {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** diffusers' default {@code controlnet_conditioning_scale}. */
    private static final double DEFAULT_SCALE = 1.0;

    /**
     * @throws IllegalArgumentException naming the spec and the part that is missing or malformed, or the field of the
     *     control that is out of range
     */
    static ControlSpec parse(String spec) {
        Map<String, String> parts = parts(spec);
        String type = parts.remove("type");
        String image = parts.remove("image");
        String keypoints = parts.remove("keypoints");
        double scale = number(spec, parts.remove("scale"), "scale", DEFAULT_SCALE);
        double start = number(spec, parts.remove("start"), "start", 0);
        double end = number(spec, parts.remove("end"), "end", 1);
        Optional<Path> model = Optional.ofNullable(parts.remove("model")).map(Path::of);
        if (model.isPresent() && !Files.isDirectory(model.get())) {
            throw new IllegalArgumentException("--control '" + spec + "': model " + model.get()
                    + " is not a ControlNet folder");
        }
        try {
            byte[] data = keypoints == null ? null : readKeypoints(Path.of(keypoints));
            Control control = Control.fromRequestOptions(type,
                    image == null ? null : SubjectSpec.readImage(Path.of(image)),
                    data == null ? null : new ControlData(data, keypoints), scale, start, end, parts);
            return new ControlSpec(control, model, data == null ? SubjectSpec.source(Path.of(image))
                    : Map.of("keypoints", keypointsValue(data)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--control '" + spec + "': " + e.getMessage(), e);
        }
    }

    /**
     * Keypoints as a request writes them inline: the JSON object; the text as it is where it is no JSON, which the
     * pose preprocessor reports with the file and the place.
     */
    private static Object keypointsValue(byte[] data) {
        try {
            return JSON.readValue(data, Object.class);
        } catch (IOException e) {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    /**
     * The {@code key=value} parts of a spec, in order, checked for a type and exactly one of {@code image=} and
     * {@code keypoints=}.
     *
     * @throws IllegalArgumentException naming the spec and the part that is missing or malformed
     */
    static Map<String, String> parts(String spec) {
        Map<String, String> parts = new LinkedHashMap<>();
        for (String token : spec.split(",")) {
            int eq = token.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--control '" + spec + "': expected key=value parts, got '" + token
                        + "'");
            }
            String key = token.substring(0, eq).trim();
            if (parts.put(key, token.substring(eq + 1).trim()) != null) {
                throw new IllegalArgumentException("--control '" + spec + "': '" + key + "' is given twice");
            }
        }
        if (!parts.containsKey("type")) {
            throw new IllegalArgumentException("--control '" + spec + "': 'type=' is required");
        }
        if (parts.containsKey("image") == parts.containsKey("keypoints")) {
            throw new IllegalArgumentException("--control '" + spec + "': give exactly one of 'image=' and "
                    + "'keypoints='");
        }
        return parts;
    }

    /**
     * @throws IllegalArgumentException naming the file when it is missing or cannot be read
     */
    static byte[] readKeypoints(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("keypoints " + file + " does not exist");
        }
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("keypoints " + file + " cannot be read: " + e.getMessage(), e);
        }
    }

    static double number(String spec, String value, String key, double defaultValue) {
        if (value == null) {
            return defaultValue;
        }
        try {
            return Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--control '" + spec + "': " + key + " must be a number, got '"
                    + value + "'", e);
        }
    }
}

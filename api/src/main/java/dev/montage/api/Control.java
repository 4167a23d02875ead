package dev.montage.api;

import java.awt.image.BufferedImage;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * One spatial control (ControlNet) of a request, whose input is either a picture or a data file (such as OpenPose
 * keypoints, which the type's preprocessor renders into the conditioning picture).
 *
 * <p>Two options are the pipeline's, not the condition plugin's: {@value #PREPROCESS_OPTION} ({@code none} feeds
 * the picture to the ControlNet as it is, only resized to the output size; {@code auto}, the default, runs the
 * type's preprocessor when one is installed) and {@value #CONTEXT_OPTION} ({@code text-only} or {@code full}, see
 * {@link ControlNetContext}; default: the pipeline's setting).
 *
 * @param type              the condition plugin id, e.g. {@code "canny"}, {@code "depth"}, {@code "pose"}
 * @param image             the input picture the condition plugin preprocesses (or uses as is); null when the
 *                          control is given as {@code data}
 * @param data              the input data file the condition plugin preprocesses; null when the control is given as
 *                          an {@code image}
 * @param conditioningScale multiplier of the ControlNet residuals, finite and &ge; 0
 * @param guidanceStart     fraction of the steps at which the control starts acting, in 0..1 (diffusers'
 *                          {@code control_guidance_start})
 * @param guidanceEnd       fraction of the steps at which it stops, in 0..1 and &gt; {@code guidanceStart}
 * @param options           plugin-specific options (e.g. {@code low}, {@code high} for canny) and the pipeline's
 *                          own {@value #PREPROCESS_OPTION} and {@value #CONTEXT_OPTION}, never null
 */
public record Control(
        String type,
        BufferedImage image,
        ControlData data,
        double conditioningScale,
        double guidanceStart,
        double guidanceEnd,
        Map<String, String> options) {

    /** Option choosing whether the type's preprocessor runs: {@code auto} (default) or {@code none}. */
    public static final String PREPROCESS_OPTION = "preprocess";
    /** Option choosing the ControlNet's cross-attention context: {@code text-only} or {@code full}. */
    public static final String CONTEXT_OPTION = "context";

    /**
     * @throws IllegalArgumentException naming the field and what was expected
     */
    public Control {
        if (type == null || type.isBlank()) {
            throw new IllegalArgumentException("control.type is required (e.g. canny, depth, pose)");
        }
        if ((image == null) == (data == null)) {
            throw new IllegalArgumentException("control.image or control.data is required (exactly one), got "
                    + (image == null ? "neither" : "both") + " for control '" + type + "'");
        }
        if (!(conditioningScale >= 0 && Double.isFinite(conditioningScale))) {
            throw new IllegalArgumentException(
                    "control.scale must be a finite number >= 0, got " + conditioningScale + " for control '" + type + "'");
        }
        if (!(guidanceStart >= 0 && guidanceStart <= 1)) {
            throw new IllegalArgumentException("control.start must be in 0..1, got " + guidanceStart
                    + " for control '" + type + "'");
        }
        if (!(guidanceEnd >= 0 && guidanceEnd <= 1)) {
            throw new IllegalArgumentException("control.end must be in 0..1, got " + guidanceEnd
                    + " for control '" + type + "'");
        }
        if (!(guidanceStart < guidanceEnd)) {
            throw new IllegalArgumentException("control.start must be < control.end, got start=" + guidanceStart
                    + ", end=" + guidanceEnd + " for control '" + type + "'");
        }
        options = Map.copyOf(options == null ? Map.of() : options);
        String preprocess = options.getOrDefault(PREPROCESS_OPTION, "auto");
        if (!preprocess.equals("auto") && !preprocess.equals("none")) {
            throw new IllegalArgumentException("control option '" + PREPROCESS_OPTION + "' must be auto or none, got '"
                    + preprocess + "' for control '" + type + "'");
        }
        if (options.containsKey(CONTEXT_OPTION)) {
            try {
                ControlNetContext.parse(options.get(CONTEXT_OPTION));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("control option '" + CONTEXT_OPTION + "': " + e.getMessage()
                        + " for control '" + type + "'", e);
            }
        }
    }

    /**
     * A control given as a picture.
     *
     * @throws IllegalArgumentException naming the field that is missing or out of range
     */
    public Control(String type, BufferedImage image, double conditioningScale, double guidanceStart,
            double guidanceEnd, Map<String, String> options) {
        this(type, image, null, conditioningScale, guidanceStart, guidanceEnd, options);
    }

    /** Whether the type's preprocessor should run ({@value #PREPROCESS_OPTION} is not {@code none}). */
    public boolean preprocess() {
        return !"none".equals(options.get(PREPROCESS_OPTION));
    }

    /** The cross-attention context this control asks for, if it overrides the pipeline's. */
    public Optional<ControlNetContext> context() {
        return Optional.ofNullable(options.get(CONTEXT_OPTION)).map(ControlNetContext::parse);
    }

    /** The options for the condition plugin's preprocessor: all but the pipeline's own. */
    public Map<String, String> preprocessorOptions() {
        Map<String, String> out = new LinkedHashMap<>(options);
        out.remove(PREPROCESS_OPTION);
        out.remove(CONTEXT_OPTION);
        return Map.copyOf(out);
    }

    /**
     * diffusers' guidance window: whether the control acts at step {@code step} of {@code steps},
     * {@code !(step/steps < start || (step+1)/steps > end)} in double precision as Python computes it.
     */
    public boolean activeAt(int step, int steps) {
        return !((double) step / steps < guidanceStart || (double) (step + 1) / steps > guidanceEnd);
    }

    /** A control acting over all steps with the given scale and no options. */
    public static Control of(String type, BufferedImage image, double conditioningScale) {
        return new Control(type, image, conditioningScale, 0, 1, Map.of());
    }

    /**
     * A control given as a data file, e.g. OpenPose JSON keypoints for {@code pose}; its type's preprocessor turns
     * it into the conditioning picture (the pipeline refuses {@code preprocess=none} and types without a
     * preprocessor for it).
     *
     * @param bytes  the file's content
     * @param source where the bytes came from (a file name, a request field), named in errors
     * @throws IllegalArgumentException naming the field that is missing or out of range
     */
    public static Control ofData(String type, byte[] bytes, String source, double conditioningScale,
            double guidanceStart, double guidanceEnd, Map<String, String> options) {
        return new Control(type, null, new ControlData(bytes, source), conditioningScale, guidanceStart, guidanceEnd,
                options);
    }
}

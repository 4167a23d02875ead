package dev.montage.api;

import java.awt.image.BufferedImage;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One spatial control (ControlNet) of a request, whose input is either a picture or a data file (such as OpenPose
 * keypoints, which the type's preprocessor renders into the conditioning picture).
 *
 * <p>Requests and the command line write a control's {@link #preprocess} and {@link #context} among its options, as
 * {@value #PREPROCESS_OPTION} ({@code auto} or {@code none}) and {@value #CONTEXT_OPTION} ({@code text-only} or
 * {@code full}); {@link #fromRequestOptions} takes them out of such options and {@link #requestOptions} writes them
 * back, while {@link #options} holds the preprocessor's options alone.
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
 * @param preprocess        whether the type's preprocessor runs (the default); false feeds the picture to the
 *                          ControlNet as it is, only resized to the output size, and takes no preprocessor options
 * @param context           the ControlNet's cross-attention context when the control chooses one, else empty for the
 *                          pipeline's (see {@link ControlNetContext}); null is taken as empty
 * @param options           the preprocessor's options (e.g. {@code low}, {@code high} for canny), checked against the
 *                          ones it declares ({@link dev.montage.api.spi.ConditionPreprocessor#options()}); null is
 *                          taken as none
 */
public record Control(
        String type,
        BufferedImage image,
        ControlData data,
        double conditioningScale,
        double guidanceStart,
        double guidanceEnd,
        boolean preprocess,
        Optional<ControlNetContext> context,
        Map<String, String> options) {

    /** How requests write {@link #preprocess}: {@code auto} (default) or {@code none}. */
    public static final String PREPROCESS_OPTION = "preprocess";
    /** How requests write {@link #context}: {@code text-only} or {@code full}. */
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
        context = context == null ? Optional.empty() : context;
        options = Map.copyOf(options == null ? Map.of() : options);
        for (String own : List.of(PREPROCESS_OPTION, CONTEXT_OPTION)) {
            if (options.containsKey(own)) {
                throw new IllegalArgumentException("control.options holds '" + own + "', which is the control's "
                        + "own field, not an option of its preprocessor, for control '" + type + "'");
            }
        }
    }

    /**
     * A control given as a picture, preprocessed by its type's preprocessor, in the pipeline's context.
     *
     * @param options the preprocessor's options
     * @throws IllegalArgumentException naming the field that is missing or out of range
     */
    public Control(String type, BufferedImage image, double conditioningScale, double guidanceStart,
            double guidanceEnd, Map<String, String> options) {
        this(type, image, null, conditioningScale, guidanceStart, guidanceEnd, true, Optional.empty(), options);
    }

    /**
     * A control from options as requests and the command line write them: {@value #PREPROCESS_OPTION} and
     * {@value #CONTEXT_OPTION} become {@link #preprocess} and {@link #context}, the others are the preprocessor's.
     *
     * @param image   the picture, or null for a control given as {@code data}
     * @param data    the data file, or null for a control given as {@code image}
     * @param options the options as written in the request
     * @throws IllegalArgumentException naming the field or option that is missing, malformed or out of range
     */
    public static Control fromRequestOptions(String type, BufferedImage image, ControlData data,
            double conditioningScale, double guidanceStart, double guidanceEnd, Map<String, String> options) {
        Map<String, String> own = new LinkedHashMap<>(options == null ? Map.of() : options);
        String preprocess = own.remove(PREPROCESS_OPTION);
        if (preprocess != null && !preprocess.equals("auto") && !preprocess.equals("none")) {
            throw new IllegalArgumentException("control option '" + PREPROCESS_OPTION + "' must be auto or none, got '"
                    + preprocess + "' for control '" + type + "'");
        }
        String context = own.remove(CONTEXT_OPTION);
        Optional<ControlNetContext> chosen;
        try {
            chosen = Optional.ofNullable(context).map(ControlNetContext::parse);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("control option '" + CONTEXT_OPTION + "': " + e.getMessage()
                    + " for control '" + type + "'", e);
        }
        return new Control(type, image, data, conditioningScale, guidanceStart, guidanceEnd, !"none".equals(preprocess),
                chosen, own);
    }

    /**
     * The options as requests write them, sorted by name: the preprocessor's, with {@value #PREPROCESS_OPTION}
     * {@code none} when the preprocessor is off and {@value #CONTEXT_OPTION} when the control chooses a context.
     */
    public Map<String, String> requestOptions() {
        Map<String, String> out = new TreeMap<>(options);
        if (!preprocess) {
            out.put(PREPROCESS_OPTION, "none");
        }
        context.ifPresent(c -> out.put(CONTEXT_OPTION, c.configName()));
        return Collections.unmodifiableMap(out);
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
                true, Optional.empty(), options);
    }
}

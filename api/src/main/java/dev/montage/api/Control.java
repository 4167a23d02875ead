package dev.montage.api;

import java.awt.image.BufferedImage;
import java.util.Map;
import java.util.Objects;

/**
 * One spatial control (ControlNet) of a request.
 *
 * @param type              the condition plugin id, e.g. {@code "canny"}, {@code "depth"}, {@code "pose"}
 * @param image             the input picture the condition plugin preprocesses (or uses as is)
 * @param conditioningScale multiplier of the ControlNet residuals, finite and &ge; 0
 * @param guidanceStart     fraction of the steps at which the control starts acting, in 0..1
 * @param guidanceEnd       fraction of the steps at which it stops, in 0..1 and &gt; {@code guidanceStart}
 * @param options           plugin-specific options (e.g. {@code low}, {@code high} for canny), never null
 */
public record Control(
        String type,
        BufferedImage image,
        double conditioningScale,
        double guidanceStart,
        double guidanceEnd,
        Map<String, String> options) {

    /**
     * @throws IllegalArgumentException naming the field and what was expected
     */
    public Control {
        if (type == null || type.isBlank()) {
            throw new IllegalArgumentException("control.type is required (e.g. canny, depth, pose)");
        }
        Objects.requireNonNull(image, "control.image is required for control '" + type + "'");
        if (!(conditioningScale >= 0 && Double.isFinite(conditioningScale))) {
            throw new IllegalArgumentException(
                    "control.scale must be a finite number >= 0, got " + conditioningScale + " for control '" + type + "'");
        }
        if (!(guidanceStart >= 0 && guidanceStart <= 1)) {
            throw new IllegalArgumentException("control.start must be in 0..1, got " + guidanceStart);
        }
        if (!(guidanceEnd >= 0 && guidanceEnd <= 1)) {
            throw new IllegalArgumentException("control.end must be in 0..1, got " + guidanceEnd);
        }
        if (!(guidanceStart < guidanceEnd)) {
            throw new IllegalArgumentException(
                    "control.start must be < control.end, got start=" + guidanceStart + ", end=" + guidanceEnd);
        }
        options = Map.copyOf(options == null ? Map.of() : options);
    }

    /** A control acting over all steps with the given scale and no options. */
    public static Control of(String type, BufferedImage image, double conditioningScale) {
        return new Control(type, image, conditioningScale, 0, 1, Map.of());
    }
}

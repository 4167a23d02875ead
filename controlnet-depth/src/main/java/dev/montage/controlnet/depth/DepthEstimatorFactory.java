package dev.montage.controlnet.depth;

import dev.montage.api.host.ComponentContext;

/**
 * How a third party plugs a {@link DepthEstimator} into the {@code depth} condition: a public class with a no-arg
 * constructor, listed in {@code META-INF/services/dev.montage.controlnet.depth.DepthEstimatorFactory} of a jar on the
 * depth plugin's class path. A control selects it with the option {@code estimator=<id>}; without that option the
 * control's picture is taken as a depth map.
 */
public interface DepthEstimatorFactory {

    /** Id a control names in {@code estimator=}, lower-case with dashes, e.g. {@code "dpt-hybrid"}. */
    String id();

    /** One line for listings. */
    default String description() {
        return id();
    }

    /**
     * Builds the estimator, once per pipeline, when a control first asks for it: weights are read through
     * {@code context} (e.g. {@code context.model("depth_estimator")}) and live in {@code context.manager()}.
     *
     * @throws IllegalArgumentException naming the model file or key that is missing or wrong
     */
    DepthEstimator create(ComponentContext context);
}

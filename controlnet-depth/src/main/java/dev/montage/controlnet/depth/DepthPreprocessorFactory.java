package dev.montage.controlnet.depth;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;
import java.util.ServiceLoader;

/**
 * Factory of the {@code depth} preprocessor, with the {@link DepthEstimatorFactory depth estimators} that
 * {@link ServiceLoader} finds next to this plugin.
 */
public final class DepthPreprocessorFactory implements ComponentFactory<ConditionPreprocessor> {

    /** Registered through {@code META-INF/services}. */
    public DepthPreprocessorFactory() {
    }

    @Override
    public ComponentKind kind() {
        return ComponentKind.CONDITION_PREPROCESSOR;
    }

    @Override
    public String id() {
        return DepthPreprocessor.TYPE;
    }

    @Override
    public String description() {
        return "depth: 8/16-bit depth map (near = bright) min-max normalised to RGB, or a photograph through a "
                + "registered depth estimator (options invert, estimator)";
    }

    @Override
    public ConditionPreprocessor create(ComponentContext context) {
        return new DepthPreprocessor(ServiceLoader.load(DepthEstimatorFactory.class,
                DepthPreprocessorFactory.class.getClassLoader()).stream().map(ServiceLoader.Provider::get).toList(),
                context);
    }
}

package dev.montage.controlnet.canny;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;

/** Factory of the {@code canny} preprocessor: OpenCV-exact Canny edges, white on black. */
public final class CannyPreprocessorFactory implements ComponentFactory<ConditionPreprocessor> {

    /** Registered through {@code META-INF/services}. */
    public CannyPreprocessorFactory() {
    }

    @Override
    public ComponentKind kind() {
        return ComponentKind.CONDITION_PREPROCESSOR;
    }

    @Override
    public String id() {
        return CannyPreprocessor.TYPE;
    }

    @Override
    public String description() {
        return "canny: OpenCV 4.6 cv2.Canny edges, bit-exact (options low, high, l2, input=rgb|gray, "
                + "resolution=output|input)";
    }

    @Override
    public ConditionPreprocessor create(ComponentContext context) {
        return new CannyPreprocessor();
    }
}

package dev.montage.samples.luminance;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;

/** Factory of the {@code luminance} condition preprocessor. */
public final class LuminancePreprocessorFactory implements ComponentFactory<ConditionPreprocessor> {

    /** Found through {@code META-INF/services}. */
    public LuminancePreprocessorFactory() {
    }

    @Override
    public ComponentKind kind() {
        return ComponentKind.CONDITION_PREPROCESSOR;
    }

    @Override
    public String id() {
        return "luminance";
    }

    @Override
    public String description() {
        return "Luminance (BT.601 luma) of a picture as a conditioning image; option invert=true";
    }

    @Override
    public ConditionPreprocessor create(ComponentContext context) {
        return new LuminancePreprocessor();
    }
}

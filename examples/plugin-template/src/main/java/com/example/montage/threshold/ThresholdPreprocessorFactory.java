package com.example.montage.threshold;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;

/** Makes the {@code scribble} condition preprocessor; listed in {@code META-INF/services}. */
public final class ThresholdPreprocessorFactory implements ComponentFactory<ConditionPreprocessor> {

    /** Found through {@code META-INF/services}. */
    public ThresholdPreprocessorFactory() {
    }

    @Override
    public ComponentKind kind() {
        return ComponentKind.CONDITION_PREPROCESSOR;
    }

    @Override
    public String id() {
        return ThresholdPreprocessor.TYPE;
    }

    @Override
    public String description() {
        return "Scribble from a drawing: pixels darker than level (0-255, default 128) become white lines on black";
    }

    @Override
    public ConditionPreprocessor create(ComponentContext context) {
        return new ThresholdPreprocessor();
    }
}

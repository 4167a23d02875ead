package dev.montage.controlnet.pose;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;

/** Factory of the {@code pose} preprocessor: OpenPose JSON keypoints drawn as the ControlNet skeleton. */
public final class PosePreprocessorFactory implements ComponentFactory<ConditionPreprocessor> {

    /** Registered through {@code META-INF/services}. */
    public PosePreprocessorFactory() {
    }

    @Override
    public ComponentKind kind() {
        return ComponentKind.CONDITION_PREPROCESSOR;
    }

    @Override
    public String id() {
        return PosePreprocessor.TYPE;
    }

    @Override
    public String description() {
        return "pose: OpenPose COCO-18 JSON keypoints drawn as the ControlNet skeleton, or a rendered pose picture "
                + "as is (options stick_width, joint_radius: pixels or auto)";
    }

    @Override
    public ConditionPreprocessor create(ComponentContext context) {
        return new PosePreprocessor();
    }
}

package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code lms}: diffusers' LMS discrete scheduler (A1111's LMS), linear multistep of order 4. */
public final class LmsSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public LmsSchedulerFactory() {
        super("lms", "LMS (diffusers LMSDiscreteScheduler, A1111's LMS): linear multistep of order 4",
                SchedulerOptions.WITH_KARRAS, Map.of(), LmsDiscreteScheduler::new, "LMSDiscreteScheduler");
    }
}

package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code lms-karras}: the LMS discrete scheduler with Karras sigmas (A1111's LMS Karras). */
public final class LmsKarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public LmsKarrasSchedulerFactory() {
        super("lms-karras", "LMS with Karras sigmas", SchedulerOptions.WITH_KARRAS, Map.of("use_karras_sigmas", true),
                LmsDiscreteScheduler::new);
    }
}

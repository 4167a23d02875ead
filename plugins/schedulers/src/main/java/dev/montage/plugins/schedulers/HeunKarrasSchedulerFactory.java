package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code heun-karras}: the Heun discrete scheduler with Karras sigmas (A1111's Heun, Karras). */
public final class HeunKarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public HeunKarrasSchedulerFactory() {
        super("heun-karras", "Heun with Karras sigmas", SchedulerOptions.HEUN, Map.of("use_karras_sigmas", true),
                HeunDiscreteScheduler::new);
    }
}

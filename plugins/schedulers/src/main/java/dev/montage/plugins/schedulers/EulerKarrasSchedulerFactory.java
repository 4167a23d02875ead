package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code euler-karras}: the Euler discrete scheduler with Karras sigmas. */
public final class EulerKarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public EulerKarrasSchedulerFactory() {
        super("euler-karras", "Euler discrete with Karras sigmas",
                SchedulerOptions.EULER, Map.of("use_karras_sigmas", true), EulerDiscreteScheduler::new);
    }
}

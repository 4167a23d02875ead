package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code dpm2-karras}: the KDPM2 discrete scheduler with Karras sigmas (A1111's DPM2 Karras). */
public final class KDpm2KarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public KDpm2KarrasSchedulerFactory() {
        super("dpm2-karras", "DPM2 with Karras sigmas", SchedulerOptions.WITH_KARRAS, Map.of("use_karras_sigmas", true),
                KDpm2DiscreteScheduler::new);
    }
}

package dev.montage.plugins.schedulers;

import java.util.Map;

/**
 * Factory of {@code dpm2-ancestral-karras}: the KDPM2 ancestral scheduler with Karras sigmas (A1111's DPM2 a Karras).
 */
public final class KDpm2AncestralKarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public KDpm2AncestralKarrasSchedulerFactory() {
        super("dpm2-ancestral-karras", "DPM2 ancestral with Karras sigmas", SchedulerOptions.WITH_KARRAS,
                Map.of("use_karras_sigmas", true), KDpm2DiscreteScheduler::ancestral);
    }
}

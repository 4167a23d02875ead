package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code dpmpp-2s-ancestral-karras}: DPM++ 2S a with Karras sigmas (A1111's DPM++ 2S a Karras). */
public final class Dpmpp2sAncestralKarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public Dpmpp2sAncestralKarrasSchedulerFactory() {
        super("dpmpp-2s-ancestral-karras", "DPM++ 2S a with Karras sigmas", SchedulerOptions.WITH_KARRAS,
                Map.of("use_karras_sigmas", true), DpmSolverAncestralScheduler::new);
    }
}

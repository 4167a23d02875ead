package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code dpmpp-sde-karras}: the DPM-Solver SDE scheduler with Karras sigmas (A1111's DPM++ SDE Karras). */
public final class DpmppSdeKarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public DpmppSdeKarrasSchedulerFactory() {
        super("dpmpp-sde-karras", "DPM++ SDE with Karras sigmas", SchedulerOptions.WITH_KARRAS,
                Map.of("use_karras_sigmas", true), DpmSolverSdeScheduler::new);
    }
}

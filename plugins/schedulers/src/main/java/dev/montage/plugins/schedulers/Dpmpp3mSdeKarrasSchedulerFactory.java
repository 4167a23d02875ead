package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code dpmpp-3m-sde-karras}: DPM++ 3M SDE with Karras sigmas (A1111's DPM++ 3M SDE Karras). */
public final class Dpmpp3mSdeKarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public Dpmpp3mSdeKarrasSchedulerFactory() {
        super("dpmpp-3m-sde-karras", "DPM++ 3M SDE with Karras sigmas", SchedulerOptions.DPM_SOLVER_3M_SDE,
                Map.of("use_karras_sigmas", true), DpmSolver3mSdeScheduler::new);
    }
}

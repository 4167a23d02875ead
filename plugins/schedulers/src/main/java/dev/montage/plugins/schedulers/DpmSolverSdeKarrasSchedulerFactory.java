package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code dpmpp-2m-sde-karras}: SDE-DPM-Solver++(2M) with Karras sigmas. */
public final class DpmSolverSdeKarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public DpmSolverSdeKarrasSchedulerFactory() {
        super("dpmpp-2m-sde-karras", "SDE-DPM-Solver++(2M) with Karras sigmas", SchedulerOptions.DPM_SOLVER,
                Map.of("algorithm_type", "sde-dpmsolver++", "use_karras_sigmas", true),
                DpmSolverMultistepScheduler::new);
    }
}

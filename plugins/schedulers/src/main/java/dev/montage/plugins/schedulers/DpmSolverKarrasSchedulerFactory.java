package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code dpmpp-2m-karras}: DPM-Solver++(2M) with Karras sigmas. */
public final class DpmSolverKarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public DpmSolverKarrasSchedulerFactory() {
        super("dpmpp-2m-karras", "DPM-Solver++(2M) with Karras sigmas",
                SchedulerOptions.DPM_SOLVER, Map.of("use_karras_sigmas", true), DpmSolverMultistepScheduler::new);
    }
}

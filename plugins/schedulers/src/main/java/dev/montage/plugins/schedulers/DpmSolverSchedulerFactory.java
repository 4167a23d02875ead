package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code dpmpp-2m}: diffusers' multistep DPM-Solver++ of second order. */
public final class DpmSolverSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public DpmSolverSchedulerFactory() {
        super("dpmpp-2m", "DPM-Solver++(2M) (diffusers DPMSolverMultistepScheduler)",
                SchedulerOptions.DPM_SOLVER, Map.of(), DpmSolverMultistepScheduler::new,
                "DPMSolverMultistepScheduler");
    }
}

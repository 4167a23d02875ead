package dev.montage.plugins.schedulers;

import java.util.Map;

/**
 * Factory of {@code dpmpp-2m-sde}: SDE-DPM-Solver++(2M) (A1111's "DPM++ 2M SDE"), which adds fresh noise drawn from the
 * generation's seed at each step.
 */
public final class DpmSolverSdeSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public DpmSolverSdeSchedulerFactory() {
        super("dpmpp-2m-sde", "SDE-DPM-Solver++(2M) (diffusers DPMSolverMultistepScheduler, sde-dpmsolver++): fresh "
                + "noise from the seed at each step", SchedulerOptions.DPM_SOLVER,
                Map.of("algorithm_type", "sde-dpmsolver++"), DpmSolverMultistepScheduler::new);
    }
}

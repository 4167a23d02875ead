package dev.montage.plugins.schedulers;

import java.util.Map;

/**
 * Factory of {@code dpmpp-sde}: diffusers' DPM-Solver SDE scheduler (A1111's DPM++ SDE), two model evaluations per
 * step with Brownian noise drawn from the generation's seed.
 */
public final class DpmppSdeSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public DpmppSdeSchedulerFactory() {
        super("dpmpp-sde", "DPM++ SDE (diffusers DPMSolverSDEScheduler, A1111's DPM++ SDE): stochastic second order, "
                + "two model evaluations per step but the last", SchedulerOptions.WITH_KARRAS, Map.of(),
                DpmSolverSdeScheduler::new, "DPMSolverSDEScheduler");
    }
}

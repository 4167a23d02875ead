package dev.montage.plugins.schedulers;

import java.util.Map;

/**
 * Factory of {@code dpmpp-3m-sde}: k-diffusion's DPM-Solver++(3M) SDE (A1111's DPM++ 3M SDE), one model evaluation
 * per step and fresh noise from the generation's seed.
 */
public final class Dpmpp3mSdeSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public Dpmpp3mSdeSchedulerFactory() {
        super("dpmpp-3m-sde", "DPM++ 3M SDE (k-diffusion sample_dpmpp_3m_sde, A1111's DPM++ 3M SDE): third-order "
                + "multistep SDE, one model evaluation per step; A1111's default schedule for it is "
                + "use_exponential_sigmas", SchedulerOptions.DPM_SOLVER_3M_SDE, Map.of(),
                DpmSolver3mSdeScheduler::new);
    }
}

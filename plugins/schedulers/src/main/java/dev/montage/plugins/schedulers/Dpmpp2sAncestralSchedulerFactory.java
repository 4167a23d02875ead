package dev.montage.plugins.schedulers;

import java.util.Map;

/**
 * Factory of {@code dpmpp-2s-ancestral}: k-diffusion's ancestral DPM-Solver++(2S) (A1111's DPM++ 2S a), two model
 * evaluations per step and fresh noise from the generation's seed.
 */
public final class Dpmpp2sAncestralSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public Dpmpp2sAncestralSchedulerFactory() {
        super("dpmpp-2s-ancestral", "DPM++ 2S a (k-diffusion sample_dpmpp_2s_ancestral, A1111's DPM++ 2S a): "
                + "ancestral second order, two model evaluations per step but the last", SchedulerOptions.WITH_KARRAS,
                Map.of(), DpmSolverAncestralScheduler::new);
    }
}

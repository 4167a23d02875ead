package dev.montage.plugins.schedulers;

import java.util.Map;

/**
 * Factory of {@code dpm2-ancestral}: diffusers' KDPM2 ancestral discrete scheduler (A1111's DPM2 a), which adds
 * fresh noise at each step.
 */
public final class KDpm2AncestralSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public KDpm2AncestralSchedulerFactory() {
        super("dpm2-ancestral", "DPM2 ancestral (diffusers KDPM2AncestralDiscreteScheduler, A1111's DPM2 a): fresh "
                + "noise at each step, two model evaluations per step but the last", SchedulerOptions.WITH_KARRAS,
                Map.of(), KDpm2DiscreteScheduler::ancestral, "KDPM2AncestralDiscreteScheduler");
    }
}

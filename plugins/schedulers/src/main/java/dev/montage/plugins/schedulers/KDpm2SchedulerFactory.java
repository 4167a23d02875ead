package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code dpm2}: diffusers' KDPM2 discrete scheduler (A1111's DPM2), two model evaluations per step. */
public final class KDpm2SchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public KDpm2SchedulerFactory() {
        super("dpm2", "DPM2 (diffusers KDPM2DiscreteScheduler, A1111's DPM2): second order, two model evaluations per "
                + "step but the last", SchedulerOptions.WITH_KARRAS, Map.of(), KDpm2DiscreteScheduler::new,
                "KDPM2DiscreteScheduler");
    }
}

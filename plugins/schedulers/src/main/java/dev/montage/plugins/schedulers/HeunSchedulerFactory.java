package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code heun}: diffusers' Heun discrete scheduler (A1111's Heun), two model evaluations per step. */
public final class HeunSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public HeunSchedulerFactory() {
        super("heun", "Heun (diffusers HeunDiscreteScheduler, A1111's Heun): second order, two model evaluations per "
                + "step but the last", SchedulerOptions.HEUN, Map.of(), HeunDiscreteScheduler::new,
                "HeunDiscreteScheduler");
    }
}

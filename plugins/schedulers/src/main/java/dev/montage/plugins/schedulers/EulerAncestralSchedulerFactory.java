package dev.montage.plugins.schedulers;

import java.util.Map;

/**
 * Factory of {@code euler-ancestral}: diffusers' Euler ancestral scheduler (A1111's "Euler a"), which adds fresh noise
 * drawn from the generation's seed at each step.
 */
public final class EulerAncestralSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public EulerAncestralSchedulerFactory() {
        super("euler-ancestral", "Euler ancestral (diffusers EulerAncestralDiscreteScheduler, A1111's Euler a): fresh "
                + "noise from the seed at each step", SchedulerOptions.EULER_ANCESTRAL, Map.of(),
                EulerDiscreteScheduler::ancestral,
                "EulerAncestralDiscreteScheduler");
    }
}

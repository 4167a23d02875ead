package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code euler}: diffusers' Euler discrete scheduler, SDXL's default. */
public final class EulerSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public EulerSchedulerFactory() {
        super("euler", "Euler discrete (diffusers EulerDiscreteScheduler, SDXL default)",
                SchedulerOptions.EULER, Map.of(), EulerDiscreteScheduler::new,
                "EulerDiscreteScheduler");
    }
}

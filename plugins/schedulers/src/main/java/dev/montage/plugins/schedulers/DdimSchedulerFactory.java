package dev.montage.plugins.schedulers;

import java.util.Map;

/**
 * Factory of {@code ddim}: diffusers' DDIM scheduler, deterministic unless {@code options.scheduler.eta} is above 0
 * (then it adds noise drawn from the seed at each step).
 */
public final class DdimSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public DdimSchedulerFactory() {
        super("ddim", "DDIM (diffusers DDIMScheduler): deterministic, or with options.scheduler.eta above 0 "
                + "fresh noise from the seed at each step",
                SchedulerOptions.DDIM, Map.of(), DdimScheduler::new,
                "DDIMScheduler");
    }
}

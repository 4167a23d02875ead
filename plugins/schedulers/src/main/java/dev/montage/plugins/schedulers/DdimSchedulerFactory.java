package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code ddim}: diffusers' DDIM scheduler, deterministic (eta 0). */
public final class DdimSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public DdimSchedulerFactory() {
        super("ddim", "DDIM, eta 0 (diffusers DDIMScheduler)",
                SchedulerOptions.DDIM, Map.of(), DdimScheduler::new);
    }
}

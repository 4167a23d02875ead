package dev.montage.plugins.schedulers;

import java.util.Map;

/** Factory of {@code unipc}: diffusers' UniPC multistep scheduler, a predictor-corrector solver for few steps. */
public final class UniPcSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public UniPcSchedulerFactory() {
        super("unipc", "UniPC (diffusers UniPCMultistepScheduler): predictor-corrector multistep solver, for 10 to 20 "
                + "steps", SchedulerOptions.UNIPC, Map.of(), UniPcScheduler::new,
                "UniPCMultistepScheduler");
    }
}

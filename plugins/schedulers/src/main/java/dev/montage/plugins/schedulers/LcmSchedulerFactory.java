package dev.montage.plugins.schedulers;

import java.util.Map;

/**
 * Factory of {@code lcm}: diffusers' LCM scheduler, for latent consistency models and SDXL with an LCM-LoRA (a few
 * steps, little or no guidance), which adds fresh noise drawn from the seed at each step but the last.
 */
public final class LcmSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public LcmSchedulerFactory() {
        super("lcm", "LCM (diffusers LCMScheduler): latent consistency models and LCM-LoRAs in 2 to 8 steps, fresh "
                + "noise from the seed at each step but the last", SchedulerOptions.LCM, Map.of(), LcmScheduler::new,
                "LCMScheduler");
    }
}

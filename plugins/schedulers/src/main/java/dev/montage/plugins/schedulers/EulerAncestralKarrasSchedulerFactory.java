package dev.montage.plugins.schedulers;

import java.util.Map;

/**
 * Factory of {@code euler-ancestral-karras}: Euler ancestral steps on Karras sigmas (A1111's "Euler a" with the Karras
 * schedule, k-diffusion's {@code sample_euler_ancestral} on them).
 */
public final class EulerAncestralKarrasSchedulerFactory extends SchedulerFactory {

    /** Registered through {@code META-INF/services}. */
    public EulerAncestralKarrasSchedulerFactory() {
        super("euler-ancestral-karras", "Euler ancestral with Karras sigmas (A1111's Euler a with the Karras "
                + "schedule): fresh noise from the seed at each step", SchedulerOptions.EULER_ANCESTRAL_KARRAS,
                Map.of("use_karras_sigmas", true), EulerDiscreteScheduler::ancestralKarras);
    }
}

package dev.montage.plugins.schedulers;

import java.util.Arrays;
import java.util.Locale;

/**
 * How a run's timesteps are spread over the training timesteps (diffusers' {@code timestep_spacing}; table 2
 * of "Common Diffusion Noise Schedules and Sample Steps are Flawed").
 */
enum TimestepSpacing {
    /** Evenly from the last training timestep to 0, both included. */
    LINSPACE,
    /** Multiples of {@code num_train_timesteps / steps} from 0, plus {@code steps_offset} (SD and SDXL). */
    LEADING,
    /**
     * Evenly spaced counting down from the last training timestep, so that the first step starts from pure noise,
     * as few-step (distilled) models are trained to.
     */
    TRAILING;

    /** The {@code timestep_spacing} setting. */
    static TimestepSpacing of(SchedulerSettings settings, TimestepSpacing defaultValue) {
        String name = settings.choice("timestep_spacing", defaultValue.configName(),
                Arrays.stream(values()).map(TimestepSpacing::configName).toList());
        return valueOf(name.toUpperCase(Locale.ROOT));
    }

    /** The name in diffusers' configuration. */
    String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}

package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.Scheduler;
import java.util.Objects;

/**
 * A scheduler that adds fresh noise at its steps in some of its forms (ancestral, SDE, DDIM with η above 0): such a
 * run needs the generation's step noise, which the host always gives; started without it, the run is refused.
 */
abstract class SometimesStochastic implements Scheduler {

    /** The name of this scheduler as a refusal to start without step noise says it, or null when it adds none. */
    abstract String stochasticName();

    /**
     * @param noise the generation's step noise where this scheduler adds fresh noise, else null
     */
    abstract Run run(int steps, NDManager state, StepNoise noise);

    @Override
    public final Run start(int steps, NDManager state) {
        String name = stochasticName();
        if (name != null) {
            throw SchedulerRun.withoutStepNoise(name);
        }
        return run(steps, state, null);
    }

    @Override
    public final Run start(int steps, NDManager state, StepNoise noise) {
        return run(steps, state, stochasticName() == null ? null : Objects.requireNonNull(noise, "noise"));
    }
}

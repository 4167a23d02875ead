package dev.montage.plugins.schedulers;

import java.util.Arrays;

/**
 * The timesteps and noise levels σ̃ of diffusers' (0.23) multistep solvers, DPM-Solver++ and UniPC, whose
 * {@code set_timesteps} are the same: {@code timestep_spacing} over the training timesteps (those above
 * {@code lambda_min_clipped}), σ̃ interpolated at them and, after the last step, that of training timestep 0; or with
 * Karras, exponential or beta sigmas the levels first, spanning the whole training range, each timestep the nearest to
 * its level (Karras) or its integer part (exponential, beta), and after the last step the last level again (Karras) or
 * 0 (exponential, beta: later diffusers' {@code final_sigmas_type: zero}).
 */
final class MultistepSchedule {

    /**
     * @param timesteps the run's timesteps
     * @param sigmas    the σ̃ of each step, and the one the last step goes to
     */
    record Levels(int[] timesteps, float[] sigmas) {
    }

    private final NoiseSchedule schedule;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final SigmaConversion conversion;
    private final double lambdaMinClipped;
    private final String solver;

    /** @param solver the solver's name, for messages */
    MultistepSchedule(NoiseSchedule schedule, TimestepSpacing spacing, int stepsOffset, SigmaConversion conversion,
            double lambdaMinClipped, String solver) {
        this.schedule = schedule;
        this.spacing = spacing;
        this.stepsOffset = stepsOffset;
        this.conversion = conversion;
        this.lambdaMinClipped = lambdaMinClipped;
        this.solver = solver;
    }

    /**
     * The levels of a run of {@code steps} steps.
     *
     * @throws IllegalArgumentException when the step count or a timestep is out of range
     */
    Levels levels(int steps) {
        schedule.checkSteps(steps);
        int[] timesteps;
        float[] sigmas = new float[steps + 1];
        if (conversion != SigmaConversion.NONE) {
            // the levels come first; each timestep is the nearest to its level with Karras sigmas, and its integer
            // part with exponential and beta ones (diffusers casts those to int64 without rounding)
            int n = schedule.trainSteps();
            double[] levels = conversion.levels(schedule.sigma(n - 1), schedule.sigma(0), steps);
            timesteps = new int[steps];
            for (int i = 0; i < steps; i++) {
                double t = schedule.sigmaToTimestep(levels[i]);
                timesteps[i] = (int) (conversion == SigmaConversion.KARRAS ? NumpyMath.round(t) : t);
                sigmas[i] = (float) levels[i];
            }
            // 0.23's Karras levels repeat the last; the later diffusers that has exponential and beta levels ends
            // those at 0 (its final_sigmas_type default), so that the last step goes to the x₀ estimate
            sigmas[steps] = conversion == SigmaConversion.KARRAS ? sigmas[steps - 1] : 0f;
        } else {
            timesteps = timesteps(steps);
            for (int i = 0; i < steps; i++) {
                sigmas[i] = (float) schedule.interpolateSigma(timesteps[i]);
            }
            sigmas[steps] = schedule.sigma(0);
        }
        for (int t : timesteps) {
            if (t < 0 || t >= schedule.trainSteps()) {
                throw new IllegalArgumentException(solver + " timestep " + t + " for " + steps + " steps is "
                        + "outside the " + schedule.trainSteps() + " training timesteps (check steps_offset = "
                        + stepsOffset + ")");
            }
        }
        return new Levels(timesteps, sigmas);
    }

    /** {@code set_timesteps}' spacing, over the timesteps above {@code lambda_min_clipped}. */
    private int[] timesteps(int steps) {
        int n = schedule.trainSteps();
        int last = n - clippedTimesteps();
        int[] out = new int[steps];
        switch (spacing) {
            case LINSPACE -> {
                double[] values = NumpyMath.linspace(0, last - 1, steps + 1);
                for (int i = 0; i < steps; i++) {
                    out[i] = (int) NumpyMath.round(values[steps - i]);
                }
            }
            case LEADING -> {
                int ratio = last / (steps + 1);
                for (int i = 0; i < steps; i++) {
                    out[i] = (steps - i) * ratio + stepsOffset;
                }
            }
            case TRAILING -> {
                int[] values = trailing(last, steps);
                if (values.length < steps) {
                    // diffusers would sample at timestep -1 or run fewer steps than asked for
                    int most = steps;
                    while (trailing(last, most).length < most) {
                        most--;
                    }
                    throw new IllegalArgumentException(solver + " with trailing spacing has " + values.length
                            + " timesteps for " + steps + " steps, as lambda_min_clipped = " + lambdaMinClipped
                            + " leaves the " + last + " lowest training timesteps; expected at most " + most
                            + " steps, or linspace or leading spacing");
                }
                System.arraycopy(values, 0, out, 0, steps);
            }
        }
        return out;
    }

    /**
     * diffusers' trailing timesteps, from {@code last} down in strides of {@code num_train_timesteps / steps}, without
     * the negative ones: numpy's surplus last value for some step counts (dropped as for Euler), and the tail below
     * 0 when clipping lowered {@code last}.
     */
    private int[] trailing(int last, int steps) {
        return Arrays.stream(NumpyMath.arange(last, 0, -(double) schedule.trainSteps() / steps))
                .mapToInt(t -> (int) NumpyMath.round(t) - 1).filter(t -> t >= 0).toArray();
    }

    /**
     * How many of the highest training timesteps have λ = log √ᾱ − log √(1 − ᾱ) below
     * {@code lambda_min_clipped} (none by default).
     */
    private int clippedTimesteps() {
        int clipped = 0;
        for (int t = 0; t < schedule.trainSteps(); t++) {
            float ac = schedule.alphaCumprod(t);
            float lambda = (float) Math.log(SchedulerRun.sqrt(ac)) - (float) Math.log(SchedulerRun.sqrt(1f - ac));
            if (lambda < lambdaMinClipped) {
                clipped++;
            }
        }
        return clipped;
    }
}

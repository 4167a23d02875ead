package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.Scheduler;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * diffusers' {@code DPMSolverMultistepScheduler} (0.23) as DPM-Solver++(2M) (Lu et al. 2022): the exponential
 * integrator of the data-prediction ODE in λ = log(α/σ), with the x₀ estimates of the current and the
 * previous step combined by the midpoint rule; with {@code algorithm_type} {@code sde-dpmsolver++}, its stochastic
 * form (A1111's "DPM++ 2M SDE"), whose steps add fresh noise drawn from the generation's
 * {@link Scheduler.StepNoise}.
 *
 * <p>Step i goes from σ_i to σ_{i+1}; the first step (and, with {@code lower_order_final} and fewer than 15
 * steps, or with {@code euler_at_final}, the last) is first order. As in 0.23, the σ after the last step is
 * not 0 but that of training timestep 0, and with Karras sigmas the last σ is repeated, so the last step
 * leaves the latents unchanged. Karras sigmas always span the whole training range, so the timestep spacing
 * only applies without them. Settings: {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas},
 * {@code solver_order} (1 or 2), {@code prediction_type}, {@code algorithm_type} ({@code dpmsolver++}, or
 * {@code deis}, which diffusers maps to it, or {@code sde-dpmsolver++}), {@code solver_type} ({@code midpoint},
 * or {@code logrho}, {@code bh1}, {@code bh2}, which diffusers maps to it), {@code lower_order_final},
 * {@code euler_at_final}, {@code use_karras_sigmas}, {@code lambda_min_clipped}, {@code timestep_spacing} (default {@code linspace}),
 * {@code steps_offset}; {@code thresholding} and {@code use_lu_lambdas} must be false and
 * {@code variance_type} unset.
 */
final class DpmSolverMultistepScheduler implements Scheduler {
    /** diffusers applies {@code lower_order_final} below this many steps only. */
    private static final int LOWER_ORDER_FINAL_BELOW = 15;

    private final SchedulerSettings settings;
    private final NoiseSchedule schedule;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final PredictionType prediction;
    private final int solverOrder;
    private final boolean lowerOrderFinal;
    private final boolean eulerAtFinal;
    private final boolean karras;
    private final double lambdaMinClipped;
    private final boolean sde;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    DpmSolverMultistepScheduler(SchedulerSettings settings) {
        this.settings = settings;
        schedule = NoiseSchedule.of(settings);
        spacing = TimestepSpacing.of(settings, TimestepSpacing.LINSPACE);
        stepsOffset = settings.integer("steps_offset", 0);
        prediction = PredictionType.of(settings);
        solverOrder = settings.integer("solver_order", 2);
        if (solverOrder == 3) {
            throw settings.unsupported("solver_order", "only the first- and second-order solvers are implemented");
        }
        if (solverOrder != 1 && solverOrder != 2) {
            throw settings.invalid("solver_order", "1 or 2");
        }
        String algorithm = settings.choice("algorithm_type", "dpmsolver++", SchedulerOptions.ALGORITHM_TYPE.choices());
        sde = algorithm.equals("sde-dpmsolver++");
        if (!algorithm.equals("dpmsolver++") && !algorithm.equals("deis") && !sde) {
            throw settings.unsupported("algorithm_type", "only dpmsolver++ and sde-dpmsolver++ are implemented");
        }
        String solver = settings.choice("solver_type", "midpoint", SchedulerOptions.SOLVER_TYPE.choices());
        if (solver.equals("heun")) {
            throw settings.unsupported("solver_type", "only the midpoint solver is implemented");
        }
        lowerOrderFinal = settings.flag("lower_order_final", true);
        eulerAtFinal = settings.flag("euler_at_final", false);
        karras = settings.flag("use_karras_sigmas", false);
        lambdaMinClipped = settings.number("lambda_min_clipped", Double.NEGATIVE_INFINITY);
        if (settings.flag("use_lu_lambdas", false)) {
            throw settings.unsupported("use_lu_lambdas", "uniform-logSNR steps are not implemented");
        }
        if (settings.flag("thresholding", false)) {
            throw settings.unsupported("thresholding", "dynamic thresholding is not implemented");
        }
        String variance = settings.text("variance_type", null);
        if ("learned".equals(variance) || "learned_range".equals(variance)) {
            throw settings.unsupported("variance_type", "models that predict their variance are not supported");
        }
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this
                : new DpmSolverMultistepScheduler(settings.with("scheduler override", overrides));
    }

    @Override
    public Run start(int steps, NDManager state) {
        if (sde) {
            throw SchedulerRun.withoutStepNoise("SDE-DPM-Solver++");
        }
        return run(steps, state, null);
    }

    @Override
    public Run start(int steps, NDManager state, StepNoise noise) {
        return run(steps, state, sde ? Objects.requireNonNull(noise, "noise") : null);
    }

    /** @param noise the step noise of an SDE run, null for the ODE solver */
    private Run run(int steps, NDManager state, StepNoise noise) {
        schedule.checkSteps(steps);
        int[] timesteps;
        float[] sigmas = new float[steps + 1];
        if (karras) {
            // the levels come first; each timestep is the nearest to its level
            int n = schedule.trainSteps();
            double[] levels = NoiseSchedule.karras(schedule.sigma(n - 1), schedule.sigma(0), steps);
            timesteps = new int[steps];
            for (int i = 0; i < steps; i++) {
                timesteps[i] = (int) NumpyMath.round(schedule.sigmaToTimestep(levels[i]));
                sigmas[i] = (float) levels[i];
            }
            sigmas[steps] = sigmas[steps - 1];
        } else {
            timesteps = timesteps(steps);
            for (int i = 0; i < steps; i++) {
                sigmas[i] = (float) schedule.interpolateSigma(timesteps[i]);
            }
            sigmas[steps] = schedule.sigma(0);
        }
        for (int t : timesteps) {
            if (t < 0 || t >= schedule.trainSteps()) {
                throw new IllegalArgumentException("DPM-Solver++ timestep " + t + " for " + steps + " steps is "
                        + "outside the " + schedule.trainSteps() + " training timesteps (check steps_offset = "
                        + stepsOffset + ")");
            }
        }
        return new DpmRun(timesteps, sigmas, state, noise);
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
                    throw new IllegalArgumentException("DPM-Solver++ with trailing spacing has " + values.length
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

    /** α, σ and λ = log α − log σ of a noise level σ̃ (α = 1/√(σ̃² + 1), σ = σ̃ α), in float32. */
    private record Noise(float alpha, float sigma, float lambda) {
        static Noise of(float level) {
            float alpha = 1f / SchedulerRun.sqrt(level * level + 1f);
            float sigma = level * alpha;
            return new Noise(alpha, sigma, (float) Math.log(alpha) - (float) Math.log(sigma));
        }
    }

    /**
     * One generation's DPM-Solver++ sampling, holding the previous step's x₀ estimate (attached to the
     * generation's state manager; closed when the next step no longer needs it, after the last step, or with
     * that manager when a generation stops early).
     */
    final class DpmRun extends SchedulerRun {
        private final float[] sigmas;
        private final NDManager state;
        private final StepNoise noise;
        private NDArray previousOriginal;
        private int nextIndex;

        private DpmRun(int[] timesteps, float[] sigmas, NDManager state, StepNoise noise) {
            super(toFloats(timesteps), 1f);
            this.sigmas = sigmas;
            this.state = Objects.requireNonNull(state, "state");
            this.noise = noise;
        }

        /** The noise level σ̃ of each step, and the one the last step goes to. */
        float[] sigmas() {
            return sigmas.clone();
        }

        /**
         * @throws IllegalStateException when steps are not taken in order (the solver needs the previous one)
         */
        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            if (index != nextIndex) {
                throw new IllegalStateException("DPM-Solver++ steps must be taken in order: expected step "
                        + nextIndex + ", got " + index);
            }
            Noise current = Noise.of(sigmas[index]);
            Noise target = Noise.of(sigmas[index + 1]);
            NDArray original = prediction.original(modelOutput, latents, current.alpha(), current.sigma());
            boolean last = index == steps() - 1;
            boolean firstOrder = solverOrder == 1 || index == 0
                    || last && (eulerAtFinal || lowerOrderFinal && steps() < LOWER_ORDER_FINAL_BELOW);
            float h = target.lambda() - current.lambda();
            NDArray slope = null;
            if (!firstOrder) {
                Noise previous = Noise.of(sigmas[index - 1]);
                float r = (current.lambda() - previous.lambda()) / h;
                slope = original.sub(previousOriginal).mul(1f / r);
            }
            NDArray next = noise == null ? ode(latents, original, slope, current, target, h)
                    : sde(latents, original, slope, current, target, h, index);
            remember(last || solverOrder == 1 ? null : original);
            nextIndex++;
            return next;
        }

        /**
         * DPM-Solver++: x · σ_t/σ_s − α_t (e^−h − 1) · x₀, and with a slope D1 − ½ α_t (e^−h − 1) · D1.
         *
         * @param slope D1, the x₀ estimates' change per λ scaled to this step, or null for a first-order step
         */
        private NDArray ode(NDArray latents, NDArray original, NDArray slope, Noise current, Noise target, float h) {
            float decay = target.alpha() * ((float) Math.exp(-h) - 1f);
            NDArray next = latents.mul(target.sigma() / current.sigma()).sub(original.mul(decay));
            return slope == null ? next : next.sub(slope.mul(0.5f * decay));
        }

        /**
         * SDE-DPM-Solver++: x · σ_t/σ_s · e^−h + α_t (1 − e^−2h) · x₀ (+ ½ α_t (1 − e^−2h) · D1) + σ_t √(1 − e^−2h) ·
         * noise, the coefficients in float32 as diffusers computes them; the step's noise is drawn at every step.
         */
        private NDArray sde(NDArray latents, NDArray original, NDArray slope, Noise current, Noise target, float h,
                int index) {
            float decay = (float) Math.exp(-2f * h);
            float gain = target.alpha() * (1f - decay);
            NDArray next = latents.mul(target.sigma() / current.sigma() * (float) Math.exp(-h))
                    .add(original.mul(gain));
            if (slope != null) {
                next = next.add(slope.mul(0.5f * gain));
            }
            return next.add(noise.sample(latents.getManager(), latents.getShape(), index)
                    .mul(target.sigma() * sqrt(1f - decay)));
        }

        /** Keeps the x₀ estimate the next step needs and closes the one it no longer needs. */
        private void remember(NDArray original) {
            if (previousOriginal != null) {
                previousOriginal.close();
            }
            previousOriginal = original;
            if (original != null) {
                original.attach(state);
            }
        }
    }
}

package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Scheduler;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * diffusers' {@code DPMSolverMultistepScheduler} (0.23) as DPM-Solver++(2M) (Lu et al. 2022): the exponential
 * integrator of the data-prediction ODE in λ = log(α/σ), with the x₀ estimates of the current and the previous step
 * combined by the midpoint rule (or, with {@code solver_order} 3, of the two previous steps); with
 * {@code algorithm_type} {@code sde-dpmsolver++}, its stochastic form (A1111's "DPM++ 2M SDE"), whose steps add fresh
 * noise drawn from the generation's {@link Scheduler.StepNoise}.
 *
 * <p>Step i goes from σ_i to σ_{i+1}; the first step (and, with {@code lower_order_final} and fewer than 15 steps, or
 * with {@code euler_at_final}, the last) is first order; a third-order solver takes its second step (and, with
 * {@code lower_order_final} and fewer than 15 steps, its last but one) at second order. As in 0.23, the σ after the
 * last step is not 0 but that of training timestep 0, and with Karras sigmas the last σ is repeated, so the last step
 * leaves the latents unchanged. Karras sigmas always span the whole training range, so the timestep spacing only
 * applies without them. Settings: {@code num_train_timesteps}, {@code beta_*}, {@code trained_betas},
 * {@code solver_order} (1 to 3; 3 for the ODE only), {@code prediction_type}, {@code algorithm_type}
 * ({@code dpmsolver++}, or {@code deis}, which diffusers maps to it, or {@code sde-dpmsolver++}), {@code solver_type}
 * ({@code midpoint}, or {@code logrho}, {@code bh1}, {@code bh2}, which diffusers maps to it, or {@code heun}),
 * {@code lower_order_final}, {@code euler_at_final}, {@code use_karras_sigmas}, {@code lambda_min_clipped},
 * {@code timestep_spacing} (default {@code linspace}), {@code steps_offset}; {@code thresholding} and
 * {@code use_lu_lambdas} must be false and {@code variance_type} unset.
 */
final class DpmSolverMultistepScheduler extends SometimesStochastic {
    /** diffusers applies {@code lower_order_final} below this many steps only. */
    private static final int LOWER_ORDER_FINAL_BELOW = 15;

    private final SchedulerSettings settings;
    private final MultistepSchedule multistep;
    private final PredictionType prediction;
    private final int solverOrder;
    private final boolean lowerOrderFinal;
    private final boolean eulerAtFinal;
    private final boolean sde;
    /** The second-order update of {@code solver_type} {@code heun}, else the midpoint one. */
    private final boolean heun;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    DpmSolverMultistepScheduler(SchedulerSettings settings) {
        this.settings = settings;
        prediction = PredictionType.of(settings);
        solverOrder = settings.integer("solver_order", 2, 1, 3);
        String algorithm = settings.choice("algorithm_type", "dpmsolver++", SchedulerOptions.ALGORITHM_TYPE.choices());
        sde = algorithm.equals("sde-dpmsolver++");
        if (!algorithm.equals("dpmsolver++") && !algorithm.equals("deis") && !sde) {
            throw settings.unsupported("algorithm_type", "only dpmsolver++ and sde-dpmsolver++ are implemented");
        }
        if (sde && solverOrder == 3) {
            throw settings.unsupported("solver_order", "the third-order solver is the ODE's (algorithm_type "
                    + "dpmsolver++), as in diffusers 0.23");
        }
        heun = settings.choice("solver_type", "midpoint", SchedulerOptions.SOLVER_TYPE.choices()).equals("heun");
        lowerOrderFinal = settings.flag("lower_order_final", true);
        eulerAtFinal = settings.flag("euler_at_final", false);
        multistep = new MultistepSchedule(NoiseSchedule.of(settings, NoiseSchedule.ZeroSnr.RESCALED_CLAMPED),
                TimestepSpacing.of(settings,
                TimestepSpacing.LINSPACE), settings.integer("steps_offset", 0), SigmaConversion.of(settings, true),
                settings.number("lambda_min_clipped", Double.NEGATIVE_INFINITY), "DPM-Solver++");
        if (settings.flag("use_lu_lambdas", false)) {
            throw settings.unsupported("use_lu_lambdas", "uniform-logSNR steps are not implemented");
        }
        settings.refuseThresholding();
        String variance = settings.text("variance_type", null);
        if ("learned".equals(variance) || "learned_range".equals(variance)) {
            throw settings.unsupported("variance_type", "models that predict their variance are not supported");
        }
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this
                : new DpmSolverMultistepScheduler(settings.override(overrides));
    }

    @Override
    String stochasticName() {
        return sde ? "SDE-DPM-Solver++" : null;
    }

    /** @param noise the step noise of an SDE run, null for the ODE solver */
    @Override
    Run run(int steps, NDManager state, StepNoise noise) {
        MultistepSchedule.Levels levels = multistep.levels(steps);
        return new DpmRun(levels.timesteps(), levels.sigmas(), state, noise);
    }

    /**
     * One generation's DPM-Solver++ sampling, holding the x₀ estimates of the previous steps its order needs
     * (attached to the generation's state manager; closed when the next step no longer needs them, after the last
     * step, or with that manager when a generation stops early).
     */
    final class DpmRun extends SchedulerRun {
        private final float[] sigmas;
        private final NDManager state;
        private final StepNoise noise;
        /** The x₀ estimates of the previous steps, the latest last: at most {@code solverOrder - 1}. */
        private final List<NDArray> history = new ArrayList<>();

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

        @Override
        NDArray noised(NDArray original, NDArray noise, int index) {
            return noisedTo(original, noise, NoiseLevel.of(sigmas[index]));
        }

        /**
         * @throws IllegalStateException when steps are not taken in order (the solver needs the previous one)
         */
        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            // diffusers' lower_order_nums: a run begun at a later step (from a picture) warms up from there
            int taken = stepsBefore(index, "DPM-Solver++");
            NoiseLevel current = NoiseLevel.of(sigmas[index]);
            NoiseLevel target = NoiseLevel.of(sigmas[index + 1]);
            NDArray original = prediction.original(modelOutput, latents, current.alpha(), current.sigma());
            boolean last = index == steps() - 1;
            boolean fewSteps = lowerOrderFinal && steps() < LOWER_ORDER_FINAL_BELOW;
            // a last step to σ = 0 is first order, as diffusers takes it with final_sigmas_type zero
            int order = solverOrder == 1 || taken == 0 || last && (eulerAtFinal || fewSteps || sigmas[index + 1] == 0)
                    ? 1
                    : solverOrder == 2 || taken == 1 || index == steps() - 2 && fewSteps ? 2 : 3;
            float h = target.lambda() - current.lambda();
            NDArray next;
            if (order == 3) {
                next = thirdOrder(latents, original, index, current, target, h);
            } else {
                NDArray slope = null;
                if (order == 2) {
                    NoiseLevel previous = NoiseLevel.of(sigmas[index - 1]);
                    float r = (current.lambda() - previous.lambda()) / h;
                    slope = original.sub(earlier(1, latents)).mul(1f / r);
                }
                next = noise == null ? ode(latents, original, slope, current, target, h)
                        : sde(latents, original, slope, current, target, h, index);
            }
            remember(last ? null : original);
            return next;
        }

        /** The x₀ estimate of {@code stepsBack} steps ago, borrowed into the step's scope (that of the latents). */
        private NDArray earlier(int stepsBack, NDArray latents) {
            return Scopes.borrow(history.get(history.size() - stepsBack), latents.getManager());
        }

        /**
         * DPM-Solver++(3M), diffusers' {@code multistep_dpm_solver_third_order_update}: with r₀ = h₀/h, r₁ = h₁/h,
         * D1₀ = (m₀ − m₁)/r₀, D1₁ = (m₁ − m₂)/r₁, D1 = D1₀ + r₀/(r₀ + r₁) (D1₀ − D1₁), D2 = (D1₀ − D1₁)/(r₀ + r₁),
         * x · σ_t/σ_s − α_t (e^−h − 1) · m₀ + α_t ((e^−h − 1)/h + 1) · D1 − α_t ((e^−h − 1 + h)/h² − ½) · D2.
         */
        private NDArray thirdOrder(NDArray latents, NDArray original, int index, NoiseLevel current,
                NoiseLevel target, float h) {
            NoiseLevel s1 = NoiseLevel.of(sigmas[index - 1]);
            NoiseLevel s2 = NoiseLevel.of(sigmas[index - 2]);
            float r0 = (current.lambda() - s1.lambda()) / h;
            float r1 = (s1.lambda() - s2.lambda()) / h;
            NDArray m1 = earlier(1, latents);
            NDArray d10 = original.sub(m1).mul(1f / r0);
            NDArray d11 = m1.sub(earlier(2, latents)).mul(1f / r1);
            NDArray curvature = d10.sub(d11);
            NDArray d1 = d10.add(curvature.mul(r0 / (r0 + r1)));
            NDArray d2 = curvature.mul(1f / (r0 + r1));
            float decay = (float) Math.exp(-h) - 1f;
            return latents.mul(target.sigma() / current.sigma()).sub(original.mul(target.alpha() * decay))
                    .add(d1.mul(target.alpha() * (decay / h + 1f)))
                    .sub(d2.mul(target.alpha() * ((decay + h) / (h * h) - 0.5f)));
        }

        /**
         * DPM-Solver++: x · σ_t/σ_s − α_t (e^−h − 1) · x₀, and with a slope D1 − ½ α_t (e^−h − 1) · D1 (midpoint)
         * or + α_t ((e^−h − 1)/h + 1) · D1 (heun).
         *
         * @param slope D1, the x₀ estimates' change per λ scaled to this step, or null for a first-order step
         */
        private NDArray ode(NDArray latents, NDArray original, NDArray slope, NoiseLevel current, NoiseLevel target,
                float h) {
            float decay = target.alpha() * ((float) Math.exp(-h) - 1f);
            NDArray next = latents.mul(target.sigma() / current.sigma()).sub(original.mul(decay));
            if (slope == null) {
                return next;
            }
            return heun ? next.add(slope.mul(target.alpha() * (((float) Math.exp(-h) - 1f) / h + 1f)))
                    : next.sub(slope.mul(0.5f * decay));
        }

        /**
         * SDE-DPM-Solver++: x · σ_t/σ_s · e^−h + α_t (1 − e^−2h) · x₀ (+ ½ α_t (1 − e^−2h) · D1, or with heun
         * + α_t ((1 − e^−2h)/(−2h) + 1) · D1) + σ_t √(1 − e^−2h) · noise, the coefficients in float32 as diffusers
         * computes them; the step's noise is drawn at every step.
         */
        private NDArray sde(NDArray latents, NDArray original, NDArray slope, NoiseLevel current, NoiseLevel target,
                float h, int index) {
            float decay = (float) Math.exp(-2f * h);
            float gain = target.alpha() * (1f - decay);
            NDArray next = latents.mul(target.sigma() / current.sigma() * (float) Math.exp(-h))
                    .add(original.mul(gain));
            if (slope != null) {
                next = next.add(slope.mul(heun ? target.alpha() * ((1f - decay) / (-2f * h) + 1f) : 0.5f * gain));
            }
            return next.add(noise.sample(latents.getManager(), latents.getShape(), index)
                    .mul(target.sigma() * sqrt(1f - decay)));
        }

        /**
         * Keeps the x₀ estimate later steps need (none after the last step) and closes those no step needs any more.
         */
        private void remember(NDArray original) {
            if (original != null && solverOrder > 1) {
                original.attach(state);
                history.add(original);
            }
            while (history.size() > (original == null ? 0 : solverOrder - 1)) {
                history.remove(0).close();
            }
        }
    }
}

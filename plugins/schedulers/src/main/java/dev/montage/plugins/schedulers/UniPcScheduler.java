package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Scheduler;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * diffusers' {@code UniPCMultistepScheduler} (0.23), UniPC (Zhao et al. 2023): at each step the corrector UniC first
 * refines the latents the last step predicted, using the model output just computed at them, then the predictor UniP
 * takes the step, both from the model outputs of the last {@code solver_order} steps in λ = log(α/σ).
 *
 * <p>The timesteps and noise levels are DPM-Solver++'s ({@link MultistepSchedule}); the model output is converted to
 * the x₀ estimate ({@code predict_x0}, the default) or to ε. The order warms up from 1 and, with
 * {@code lower_order_final}, comes down over the last steps; the second-order predictor's weight is ½ and the other
 * weights solve diffusers' small linear systems, in float32. Settings: {@code num_train_timesteps}, {@code beta_*},
 * {@code trained_betas}, {@code prediction_type}, {@code solver_order} (1 to 3, default 2), {@code predict_x0},
 * {@code solver_type} ({@code bh2}, the default, or {@code bh1}; {@code midpoint}, {@code heun} and {@code logrho}
 * are taken as {@code bh2}, as diffusers does), {@code lower_order_final}, {@code disable_corrector} (the step
 * indices after which no correction is made), {@code use_karras_sigmas}, {@code timestep_spacing} (default
 * {@code linspace}), {@code steps_offset}; {@code thresholding} must be false.
 */
final class UniPcScheduler implements Scheduler {
    private final SchedulerSettings settings;
    private final MultistepSchedule multistep;
    private final PredictionType prediction;
    private final int solverOrder;
    private final boolean predictX0;
    private final boolean bh1;
    private final boolean lowerOrderFinal;
    private final Set<Integer> correctorDisabled;

    /**
     * @throws IllegalArgumentException naming a setting with an invalid or unsupported value
     */
    UniPcScheduler(SchedulerSettings settings) {
        this.settings = settings;
        multistep = new MultistepSchedule(NoiseSchedule.of(settings, NoiseSchedule.ZeroSnr.RESCALED_CLAMPED),
                TimestepSpacing.of(settings,
                TimestepSpacing.LINSPACE), settings.integer("steps_offset", 0),
                settings.flag("use_karras_sigmas", false) ? SigmaConversion.KARRAS : SigmaConversion.NONE,
                Double.NEGATIVE_INFINITY, "UniPC");
        prediction = PredictionType.of(settings);
        solverOrder = settings.integer("solver_order", 2, 1, 3);
        predictX0 = settings.flag("predict_x0", true);
        bh1 = settings.choice("solver_type", "bh2", SchedulerOptions.SOLVER_TYPE.choices()).equals("bh1");
        lowerOrderFinal = settings.flag("lower_order_final", true);
        correctorDisabled = IntStream.of(settings.indices("disable_corrector")).boxed().collect(Collectors.toSet());
        settings.refuseThresholding();
    }

    @Override
    public Scheduler withOverrides(Map<String, ?> overrides) {
        return overrides.isEmpty() ? this : new UniPcScheduler(settings.override(overrides));
    }

    @Override
    public Run start(int steps, NDManager state) {
        MultistepSchedule.Levels levels = multistep.levels(steps);
        return new UniPcRun(levels.timesteps(), levels.sigmas(), state);
    }

    /**
     * The weights of one UniP or UniC update of {@code order} from λ step {@code h} and the ratios r_k of the earlier
     * outputs' λ offsets to it (the last ratio 1): h·φ₁ = e^ĥ − 1 and B(h) with ĥ = −h for x₀ prediction, and the
     * system R ρ = b whose rows are the powers of the ratios.
     */
    private record Update(float hPhi1, float bH, float[][] r, float[] b) {

        static Update of(float h, float[] ratios, boolean predictX0, boolean bh1) {
            int order = ratios.length;
            float hh = predictX0 ? -h : h;
            float hPhi1 = (float) Math.expm1(hh);
            float bH = bh1 ? hh : hPhi1;
            float hPhiK = hPhi1 / hh - 1f;
            int factorial = 1;
            float[][] r = new float[order][order];
            float[] b = new float[order];
            for (int i = 1; i <= order; i++) {
                for (int k = 0; k < order; k++) {
                    r[i - 1][k] = i == 1 ? 1f : i == 2 ? ratios[k] : ratios[k] * ratios[k];
                }
                b[i - 1] = hPhiK * factorial / bH;
                factorial *= i + 1;
                hPhiK = hPhiK / hh - (float) (1.0 / factorial);
            }
            return new Update(hPhi1, bH, r, b);
        }
    }

    /**
     * One generation's UniPC sampling, holding the converted model outputs of the last {@code solver_order} steps
     * and the latents the last predictor started from (aliases attached to the generation's state manager; each
     * closed when no later step needs it, all after the last step, or with that manager when a generation stops
     * early).
     */
    final class UniPcRun extends SchedulerRun {
        private final float[] sigmas;
        private final NDManager state;
        /** The converted outputs of the last steps, oldest first; null where there are none yet. */
        private final NDArray[] outputs = new NDArray[solverOrder];
        private NDArray lastSample;
        private int lastOrder;
        private int warmedUp;

        private UniPcRun(int[] timesteps, float[] sigmas, NDManager state) {
            super(toFloats(timesteps), 1f);
            this.sigmas = sigmas;
            this.state = Objects.requireNonNull(state, "state");
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
         * @throws IllegalStateException when steps are not taken in order (the solver needs the previous ones)
         */
        @Override
        NDArray update(NDArray modelOutput, int index, NDArray latents) {
            stepsBefore(index, "UniPC");
            NDManager scope = latents.getManager();
            NoiseLevel current = NoiseLevel.of(sigmas[index]);
            NDArray converted = predictX0
                    ? prediction.original(modelOutput, latents, current.alpha(), current.sigma())
                    : prediction.epsilon(modelOutput, latents, current.alpha(), current.sigma());
            // no corrector at the first step a run takes, as diffusers' (last_sample is None)
            NDArray sample = lastSample != null && !correctorDisabled.contains(index - 1)
                    ? correct(converted, recent(scope), Scopes.borrow(lastSample, scope), index) : latents;
            keep(converted);
            int order = Math.min(lowerOrderFinal ? Math.min(solverOrder, steps() - index) : solverOrder,
                    warmedUp + 1);
            NDArray next = predict(sample, recent(scope), index, order);
            boolean last = index == steps() - 1;
            lastSample = replace(lastSample, last ? null : Scopes.borrow(sample, state));
            if (last) {
                for (int i = 0; i < outputs.length; i++) {
                    outputs[i] = replace(outputs[i], null);
                }
            }
            lastOrder = order;
            warmedUp = Math.min(warmedUp + 1, solverOrder);
            return next;
        }

        /**
         * The kept outputs, oldest first, as aliases in the step's scope: what is computed from them lands there,
         * not in the state scope.
         */
        private NDArray[] recent(NDManager scope) {
            NDArray[] out = new NDArray[outputs.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = outputs[i] == null ? null : Scopes.borrow(outputs[i], scope);
            }
            return out;
        }

        /** UniP: from σ̃ at step {@code index} to the next level, with the newest {@code order} outputs. */
        private NDArray predict(NDArray x, NDArray[] recent, int index, int order) {
            NoiseLevel from = NoiseLevel.of(sigmas[index]);
            NoiseLevel to = NoiseLevel.of(sigmas[index + 1]);
            Differences d = differences(recent, from, to, index, order);
            Update u = Update.of(d.h(), d.ratios(), predictX0, bh1);
            NDArray base = base(x, recent[recent.length - 1], from, to, u);
            if (order == 1) {
                return base;
            }
            float[] rhos = order == 2 ? new float[] {0.5f}
                    : solve(new float[][] {{u.r()[0][0], u.r()[0][1]}, {u.r()[1][0], u.r()[1][1]}},
                            new float[] {u.b()[0], u.b()[1]});
            return base.sub(weighted(rhos, d.slopes(), null).mul(scale(to) * u.bH()));
        }

        /**
         * UniC: the latents the last predictor gave at step {@code index}, recomputed from the ones it started from,
         * {@code previous}, with the output just computed there, {@code newest}, and the outputs of the steps before
         * (of the last predictor's order).
         */
        private NDArray correct(NDArray newest, NDArray[] recent, NDArray previous, int index) {
            NoiseLevel from = NoiseLevel.of(sigmas[index - 1]);
            NoiseLevel to = NoiseLevel.of(sigmas[index]);
            Differences d = differences(recent, from, to, index - 1, lastOrder);
            Update u = Update.of(d.h(), d.ratios(), predictX0, bh1);
            float[] rhos = lastOrder == 1 ? new float[] {0.5f} : solve(u.r(), u.b());
            NDArray m0 = recent[recent.length - 1];
            return base(previous, m0, from, to, u).sub(weighted(rhos, d.slopes(), newest.sub(m0))
                    .mul(scale(to) * u.bH()));
        }

        /** σ_t/σ_s · x − α_t (e^ĥ − 1) · m₀ for x₀ prediction, α_t/α_s · x − σ_t (e^ĥ − 1) · m₀ for ε. */
        private NDArray base(NDArray x, NDArray m0, NoiseLevel from, NoiseLevel to, Update u) {
            return predictX0 ? x.mul(to.sigma() / from.sigma()).sub(m0.mul(to.alpha() * u.hPhi1()))
                    : x.mul(to.alpha() / from.alpha()).sub(m0.mul(to.sigma() * u.hPhi1()));
        }

        private float scale(NoiseLevel to) {
            return predictX0 ? to.alpha() : to.sigma();
        }

        /** Σ ρ_k · D_k over the slopes, then plus ρ_last · {@code change} where given (the corrector's own term). */
        private NDArray weighted(float[] rhos, NDArray[] slopes, NDArray change) {
            NDArray sum = null;
            for (int k = 0; k < slopes.length; k++) {
                NDArray term = slopes[k].mul(rhos[k]);
                sum = sum == null ? term : sum.add(term);
            }
            NDArray own = change == null ? null : change.mul(rhos[rhos.length - 1]);
            return sum == null ? own : own == null ? sum : sum.add(own);
        }

        /**
         * The λ step from {@code from} to {@code to} and, for the {@code order − 1} outputs before the newest, their
         * ratios r_k = (λ_k − λ_from)/h and slopes (m_k − m₀)/r_k; the level of the k-th earlier output is that of
         * step {@code fromIndex − k}.
         */
        private Differences differences(NDArray[] recent, NoiseLevel from, NoiseLevel to, int fromIndex, int order) {
            float h = to.lambda() - from.lambda();
            float[] ratios = new float[order];
            NDArray[] slopes = new NDArray[order - 1];
            NDArray newest = recent[recent.length - 1];
            for (int k = 1; k < order; k++) {
                float ratio = (NoiseLevel.of(sigmas[fromIndex - k]).lambda() - from.lambda()) / h;
                ratios[k - 1] = ratio;
                slopes[k - 1] = recent[recent.length - 1 - k].sub(newest).div(ratio);
            }
            ratios[order - 1] = 1f;
            return new Differences(h, ratios, slopes);
        }

        /** Keeps (an alias of) the newest converted output, dropping the oldest. */
        private void keep(NDArray converted) {
            replace(outputs[0], null);
            System.arraycopy(outputs, 1, outputs, 0, outputs.length - 1);
            outputs[outputs.length - 1] = Scopes.borrow(converted, state);
        }
    }

    private record Differences(float h, float[] ratios, NDArray[] slopes) {
    }

    /** Closes {@code old} (if any) and hands on {@code next}. */
    private static NDArray replace(NDArray old, NDArray next) {
        if (old != null) {
            old.close();
        }
        return next;
    }

    /**
     * Solves the small system a · x = b in float32 by Gaussian elimination with partial pivoting, as LAPACK's
     * {@code sgesv} behind {@code torch.linalg.solve} does.
     *
     * @throws IllegalStateException when the system is singular (two outputs at one noise level)
     */
    static float[] solve(float[][] a, float[] b) {
        int n = b.length;
        float[][] m = new float[n][];
        for (int i = 0; i < n; i++) {
            m[i] = a[i].clone();
        }
        float[] x = b.clone();
        for (int col = 0; col < n; col++) {
            int pivot = col;
            for (int row = col + 1; row < n; row++) {
                if (Math.abs(m[row][col]) > Math.abs(m[pivot][col])) {
                    pivot = row;
                }
            }
            if (m[pivot][col] == 0f) {
                throw new IllegalStateException("UniPC's system for its weights is singular");
            }
            float[] swapRow = m[col];
            m[col] = m[pivot];
            m[pivot] = swapRow;
            float swap = x[col];
            x[col] = x[pivot];
            x[pivot] = swap;
            for (int row = col + 1; row < n; row++) {
                float factor = m[row][col] / m[col][col];
                for (int k = col; k < n; k++) {
                    m[row][k] -= factor * m[col][k];
                }
                x[row] -= factor * x[col];
            }
        }
        for (int row = n - 1; row >= 0; row--) {
            float sum = x[row];
            for (int k = row + 1; k < n; k++) {
                sum -= m[row][k] * x[k];
            }
            x[row] = sum / m[row][row];
        }
        return x;
    }
}

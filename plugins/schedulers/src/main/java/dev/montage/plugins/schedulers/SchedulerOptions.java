package dev.montage.plugins.schedulers;

import dev.montage.api.spi.OptionSpec;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * The options a profile may give the schedulers ({@code options.scheduler}): diffusers' scheduler settings under
 * their {@code scheduler_config.json} keys, laid over the model's file. None has a default of its own: an option not
 * given keeps the file's value, else diffusers' default.
 */
final class SchedulerOptions {
    static final OptionSpec<Integer> NUM_TRAIN_TIMESTEPS = OptionSpec.integer("num_train_timesteps", 2,
            NoiseSchedule.MAX_TRAIN_TIMESTEPS, "timesteps of the training noise schedule (diffusers: 1000)");
    static final OptionSpec<Double> BETA_START = OptionSpec.number("beta_start", 0, 1,
            "first beta of the training schedule (diffusers: 0.0001)");
    static final OptionSpec<Double> BETA_END = OptionSpec.number("beta_end", 0, 1,
            "last beta of the training schedule (diffusers: 0.02)");
    static final OptionSpec<String> BETA_SCHEDULE = OptionSpec.choice("beta_schedule",
            List.of("linear", "scaled_linear", "squaredcos_cap_v2"),
            "how betas go from beta_start to beta_end (diffusers: linear; squaredcos_cap_v2 is not implemented)");
    static final OptionSpec<String> PREDICTION_TYPE = OptionSpec.choice("prediction_type",
            List.of("epsilon", "v_prediction"), "what the denoising model predicts (diffusers: epsilon)");
    static final OptionSpec<String> TIMESTEP_SPACING = OptionSpec.choice("timestep_spacing",
            Arrays.stream(TimestepSpacing.values()).map(TimestepSpacing::configName).toList(),
            "how a run's timesteps spread over the training timesteps: leading (SDXL's file), linspace, or trailing "
                    + "(few-step models; starts at the noisiest timestep); not used by DPM-Solver++ with Karras "
                    + "sigmas");
    static final OptionSpec<Integer> STEPS_OFFSET = OptionSpec.integer("steps_offset", Integer.MIN_VALUE,
            Integer.MAX_VALUE, "added to leading-spaced timesteps (diffusers: 0, SDXL's file: 1)");
    static final OptionSpec<Boolean> USE_KARRAS_SIGMAS = OptionSpec.bool("use_karras_sigmas",
            "Karras et al.'s noise levels instead of the training schedule's (diffusers: false)");
    static final OptionSpec<Boolean> USE_EXPONENTIAL_SIGMAS = OptionSpec.bool("use_exponential_sigmas",
            "noise levels evenly spaced in log σ (k-diffusion's exponential schedule, A1111's Exponential) instead of "
                    + "the training schedule's (diffusers: false)");
    static final OptionSpec<Boolean> USE_BETA_SIGMAS = OptionSpec.bool("use_beta_sigmas",
            "noise levels at the quantiles of a Beta(0.6, 0.6) distribution (Lee et al. 2024, A1111's Beta) instead of "
                    + "the training schedule's (diffusers: false)");
    static final OptionSpec<Boolean> USE_KL_OPTIMAL_SIGMAS = OptionSpec.bool("use_kl_optimal_sigmas",
            "noise levels evenly spaced in arctan σ (the KL-optimal schedule of Sabour et al. 2024, ComfyUI's "
                    + "kl_optimal) instead of the training schedule's (default: false)");
    static final OptionSpec<Boolean> USE_ALIGN_YOUR_STEPS_SIGMAS = OptionSpec.bool("use_align_your_steps_sigmas",
            "NVIDIA's Align Your Steps noise levels for SDXL (Sabour et al. 2024, A1111's Align Your Steps), "
                    + "log-linearly interpolated to the run's steps, instead of the training schedule's (default: "
                    + "false)");
    static final OptionSpec<String> INTERPOLATION_TYPE = OptionSpec.choice("interpolation_type",
            List.of("linear", "log_linear"), "how sigmas are interpolated (diffusers: linear; log_linear is not "
                    + "implemented)");
    static final OptionSpec<Boolean> CLIP_SAMPLE = OptionSpec.bool("clip_sample",
            "clip the predicted sample to clip_sample_range (diffusers: true)");
    static final OptionSpec<Double> CLIP_SAMPLE_RANGE = OptionSpec.number("clip_sample_range", 0,
            Double.POSITIVE_INFINITY, "the range clip_sample clips to (diffusers: 1)");
    static final OptionSpec<Boolean> SET_ALPHA_TO_ONE = OptionSpec.bool("set_alpha_to_one",
            "the final step's previous alpha product is 1 rather than the first training step's (diffusers: true)");
    static final OptionSpec<Double> ETA = OptionSpec.number("eta", 0, 1, "DDIM's η, the share of fresh noise a step "
            + "adds: 0 deterministic, 1 as stochastic as DDPM (diffusers: the pipelines' eta argument, 0)");
    static final OptionSpec<Double> SDE_ETA = OptionSpec.number("eta", 0, 1, "DPM++ 3M SDE's η: the share of the step "
            + "taken as an SDE, with fresh noise (k-diffusion and A1111: 1; 0 is the deterministic DPM-Solver++(3M))");
    static final OptionSpec<Integer> ORIGINAL_INFERENCE_STEPS = OptionSpec.integer("original_inference_steps", 1,
            NoiseSchedule.MAX_TRAIN_TIMESTEPS, "the steps of the schedule a consistency model was distilled on, which "
                    + "LCM takes its timesteps from (diffusers: 50)");
    static final OptionSpec<Double> TIMESTEP_SCALING = OptionSpec.number("timestep_scaling", 0,
            Double.POSITIVE_INFINITY, "the timestep's factor in LCM's boundary condition scalings (diffusers: 10)");
    static final OptionSpec<Boolean> THRESHOLDING = OptionSpec.bool("thresholding",
            "dynamic thresholding (diffusers: false; true is not implemented)");
    static final OptionSpec<Boolean> RESCALE_BETAS_ZERO_SNR = OptionSpec.bool("rescale_betas_zero_snr",
            "rescale betas to zero terminal SNR (Lin et al. 2023; diffusers: false), for v_prediction models trained "
                    + "so");
    static final OptionSpec<Integer> SOLVER_ORDER = OptionSpec.integer("solver_order", 1, 3,
            "order of the multistep solver, 1 to 3 (diffusers: 2; SDE-DPM-Solver++ takes 1 and 2)");
    static final OptionSpec<String> ALGORITHM_TYPE = OptionSpec.choice("algorithm_type",
            List.of("dpmsolver++", "deis", "dpmsolver", "sde-dpmsolver", "sde-dpmsolver++"),
            "the DPM-Solver variant (diffusers: dpmsolver++; dpmsolver++, deis and sde-dpmsolver++ are "
                    + "implemented)");
    static final OptionSpec<String> SOLVER_TYPE = OptionSpec.choice("solver_type",
            List.of("midpoint", "heun", "logrho", "bh1", "bh2"),
            "the update: DPM-Solver++'s second-order one (midpoint, its default, or heun) or UniPC's "
                    + "B(h) (bh2, its default, or bh1; the others are taken as bh2)");
    static final OptionSpec<Boolean> PREDICT_X0 = OptionSpec.bool("predict_x0",
            "UniPC updates the x₀ estimate rather than ε (diffusers: true)");
    static final OptionSpec<String> DISABLE_CORRECTOR = OptionSpec.string("disable_corrector", "\\d+(\\s*,\\s*\\d+)*",
            "step indices, e.g. 0, 2", "the steps (0-based) at which UniPC skips its corrector (diffusers: none)");
    static final OptionSpec<Boolean> LOWER_ORDER_FINAL = OptionSpec.bool("lower_order_final",
            "lower orders for the final steps (diffusers: true; DPM-Solver++'s only below 15 steps)");
    static final OptionSpec<Boolean> EULER_AT_FINAL = OptionSpec.bool("euler_at_final",
            "an Euler final step (diffusers: false)");
    static final OptionSpec<Double> LAMBDA_MIN_CLIPPED = OptionSpec.number("lambda_min_clipped",
            Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, "clips the smallest log-SNR (diffusers: -inf)");
    static final OptionSpec<Boolean> USE_LU_LAMBDAS = OptionSpec.bool("use_lu_lambdas",
            "uniform log-SNR steps (diffusers: false; true is not implemented)");
    static final OptionSpec<String> VARIANCE_TYPE = OptionSpec.string("variance_type",
            "whether the model predicts its variance (learned, learned_range: not supported)");

    private static final List<OptionSpec<?>> NOISE_SCHEDULE = List.of(NUM_TRAIN_TIMESTEPS, BETA_START, BETA_END,
            BETA_SCHEDULE, PREDICTION_TYPE, TIMESTEP_SPACING, STEPS_OFFSET);

    /** What the Euler ancestral scheduler reads: the noise schedule and zero terminal SNR. */
    static final List<OptionSpec<?>> EULER_ANCESTRAL = with(RESCALE_BETAS_ZERO_SNR);
    /** What Euler ancestral steps on Karras sigmas read. */
    static final List<OptionSpec<?>> EULER_ANCESTRAL_KARRAS = withLevels(RESCALE_BETAS_ZERO_SNR);
    /** What the Euler discrete scheduler reads. */
    static final List<OptionSpec<?>> EULER = withLevels(INTERPOLATION_TYPE, RESCALE_BETAS_ZERO_SNR);
    /**
     * What the DPM2, LMS, DPM++ SDE and DPM++ 2S a schedulers read: the noise schedule and Karras, exponential or
     * beta sigmas.
     */
    static final List<OptionSpec<?>> WITH_KARRAS = withLevels();
    /** What DPM++ 3M SDE reads. */
    static final List<OptionSpec<?>> DPM_SOLVER_3M_SDE = withLevels(SDE_ETA);
    /** What Heun reads. */
    static final List<OptionSpec<?>> HEUN = withLevels(CLIP_SAMPLE, CLIP_SAMPLE_RANGE);
    /** What DDIM reads. */
    static final List<OptionSpec<?>> DDIM = with(CLIP_SAMPLE, CLIP_SAMPLE_RANGE, SET_ALPHA_TO_ONE, ETA, THRESHOLDING,
            RESCALE_BETAS_ZERO_SNR);
    /** What LCM reads: its timesteps come from the distillation schedule, not the spacing. */
    static final List<OptionSpec<?>> LCM = List.of(NUM_TRAIN_TIMESTEPS, BETA_START, BETA_END, BETA_SCHEDULE,
            PREDICTION_TYPE, ORIGINAL_INFERENCE_STEPS, TIMESTEP_SCALING, CLIP_SAMPLE, CLIP_SAMPLE_RANGE, THRESHOLDING,
            RESCALE_BETAS_ZERO_SNR);
    /** What UniPC reads. */
    static final List<OptionSpec<?>> UNIPC = with(SOLVER_ORDER, PREDICT_X0, SOLVER_TYPE, LOWER_ORDER_FINAL,
            DISABLE_CORRECTOR, USE_KARRAS_SIGMAS, THRESHOLDING, RESCALE_BETAS_ZERO_SNR);
    /** What DPM-Solver++ reads. */
    static final List<OptionSpec<?>> DPM_SOLVER = withLevels(SOLVER_ORDER, ALGORITHM_TYPE, SOLVER_TYPE,
            LOWER_ORDER_FINAL, EULER_AT_FINAL, LAMBDA_MIN_CLIPPED, USE_LU_LAMBDAS, THRESHOLDING, VARIANCE_TYPE,
            RESCALE_BETAS_ZERO_SNR);

    private SchedulerOptions() {
    }

    private static List<OptionSpec<?>> with(OptionSpec<?>... own) {
        return Stream.concat(NOISE_SCHEDULE.stream(), Arrays.stream(own)).toList();
    }

    /** The noise schedule, the settings that convert its levels ({@link SigmaConversion}), and {@code own}. */
    private static List<OptionSpec<?>> withLevels(OptionSpec<?>... own) {
        List<OptionSpec<?>> levels = List.of(USE_KARRAS_SIGMAS, USE_EXPONENTIAL_SIGMAS, USE_BETA_SIGMAS,
                USE_KL_OPTIMAL_SIGMAS, USE_ALIGN_YOUR_STEPS_SIGMAS);
        return Stream.of(NOISE_SCHEDULE, levels, Arrays.asList(own)).<OptionSpec<?>>flatMap(List::stream).toList();
    }
}

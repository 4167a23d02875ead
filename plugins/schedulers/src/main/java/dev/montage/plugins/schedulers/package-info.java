/**
 * Euler discrete, Euler ancestral, Heun, DPM2, DPM2 ancestral, LMS, DDIM, DPM-Solver++, DPM++ SDE, DPM++ 2S a, UniPC
 * and LCM schedulers: ports of diffusers' {@code EulerDiscreteScheduler}, {@code EulerAncestralDiscreteScheduler},
 * {@code HeunDiscreteScheduler}, {@code KDPM2DiscreteScheduler}, {@code KDPM2AncestralDiscreteScheduler}, {@code
 * LMSDiscreteScheduler}, {@code DDIMScheduler}, {@code DPMSolverMultistepScheduler}, {@code DPMSolverSDEScheduler},
 * {@code UniPCMultistepScheduler} and {@code LCMScheduler} (0.23), and of k-diffusion's {@code
 * sample_dpmpp_2s_ancestral} on the same noise levels.
 *
 * <p><b>Component ids</b> (kind {@code SCHEDULER}): {@code euler}, {@code euler-karras}, {@code euler-ancestral},
 * {@code euler-ancestral-karras} (its steps on Karras sigmas, as k-diffusion takes them), {@code heun}, {@code
 * heun-karras}, {@code dpm2}, {@code dpm2-karras}, {@code dpm2-ancestral}, {@code dpm2-ancestral-karras}, {@code lms},
 * {@code lms-karras}, {@code ddim}, {@code dpmpp-2m}, {@code dpmpp-2m-karras}, {@code dpmpp-2m-sde}, {@code
 * dpmpp-2m-sde-karras} (the SDE form, {@code algorithm_type} {@code sde-dpmsolver++}), {@code dpmpp-sde}, {@code
 * dpmpp-sde-karras} (diffusers' {@code DPMSolverSDEScheduler}), {@code dpmpp-2s-ancestral}, {@code
 * dpmpp-2s-ancestral-karras}, {@code unipc}, {@code lcm}. The {@code -karras} ids are the plain ones with {@code
 * use_karras_sigmas} set, so that a request can pick Karras sigmas by id alone.
 *
 * <p><b>Settings</b> use diffusers' configuration names and come, later ones winning, from the base model's {@code
 * scheduler/scheduler_config.json} (read like {@code from_config}: keys a scheduler does not know are ignored, missing
 * ones take diffusers' defaults, so the SDXL Euler file also drives DDIM and DPM-Solver++), the profile's options for
 * the component, the id, and {@link dev.montage.api.spi.Scheduler#withOverrides} for one request (e.g. {@code
 * timestep_spacing: trailing}). Errors name the file or override and the key.
 *
 * <p><b>Precision.</b> Schedules are computed as diffusers computes them, down to the float32 rounding of torch
 * (including the reference's float32 {@code torch.linspace}) and numpy's float64 range functions, so timesteps and σ
 * match the reference bit for bit; step coefficients are float32 values combined in diffusers' order, and a step is
 * element-wise arithmetic of arrays and scalars in the latents' dtype (bf16 included).
 *
 * <p><b>Not ported</b>, refused with an error naming the key where a setting asks for it: the stochastic paths other
 * than those of Euler ancestral, DPM2 ancestral, SDE-DPM-Solver++, DPM++ SDE, DPM++ 2S a, DDIM with η and LCM (Euler's
 * {@code s_churn}, SDE-DPM-Solver), dynamic thresholding, {@code squaredcos_cap_v2} betas, zero-terminal-SNR rescaling,
 * {@code log_linear} interpolation, the third-order SDE and Heun DPM solvers, uniform-logSNR steps and learned
 * variances. Two deliberate deviations, so that a run has exactly the steps asked for (the two model evaluations per
 * step of Heun, DPM2, DPM++ SDE and DPM++ 2S a aside): for the step counts where numpy's {@code arange} yields one
 * timestep too many with trailing spacing (e.g. 61), diffusers samples an extra step at timestep -1, and here that
 * surplus timestep is dropped; and where {@code lambda_min_clipped} leaves too few training timesteps for trailing
 * spacing, DPM-Solver++ refuses the step count, naming the most it can take, where diffusers would sample at timestep
 * -1 or take fewer steps.
 */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.plugins.schedulers;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;

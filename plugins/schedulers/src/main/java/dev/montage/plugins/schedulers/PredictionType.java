package dev.montage.plugins.schedulers;

import ai.djl.ndarray.NDArray;

/** What the denoising model predicts (diffusers' {@code prediction_type}). */
enum PredictionType {
    /** The noise ε (SD, SDXL base). */
    EPSILON,
    /** The velocity v = ᾱ^½ ε − (1 − ᾱ)^½ x₀ (Imagen Video, section 2.4). */
    V_PREDICTION;

    /**
     * The x₀ estimate from the model output at a noise level where the latents are α · x₀ + σ · ε (for DDPM-type
     * schedules α = √ᾱ and σ = √(1 − ᾱ)), in diffusers' order of operations.
     */
    NDArray original(NDArray modelOutput, NDArray latents, float alpha, float sigma) {
        return switch (this) {
            case EPSILON -> latents.sub(modelOutput.mul(sigma)).div(alpha);
            case V_PREDICTION -> latents.mul(alpha).sub(modelOutput.mul(sigma));
        };
    }

    /**
     * The x₀ estimate from the model output at a noise level σ̃ of the σ-parametrised schedulers (latents
     * x₀ + σ̃ · ε, the model seeing them scaled by 1/√(σ̃² + 1)), in diffusers' order of operations.
     */
    NDArray originalAtLevel(NDArray modelOutput, NDArray latents, float level) {
        return switch (this) {
            case EPSILON -> latents.sub(modelOutput.mul(level));
            case V_PREDICTION -> modelOutput.mul(-level / SchedulerRun.sqrt(level * level + 1f))
                    .add(latents.div(level * level + 1f));
        };
    }

    /** The ε estimate from the model output at a noise level where the latents are α · x₀ + σ · ε. */
    NDArray epsilon(NDArray modelOutput, NDArray latents, float alpha, float sigma) {
        return switch (this) {
            case EPSILON -> modelOutput;
            case V_PREDICTION -> modelOutput.mul(alpha).add(latents.mul(sigma));
        };
    }

    /** The {@code prediction_type} setting ({@code epsilon} by default). */
    static PredictionType of(SchedulerSettings settings) {
        String name = settings.choice("prediction_type", "epsilon", SchedulerOptions.PREDICTION_TYPE.choices());
        return name.equals("epsilon") ? EPSILON : V_PREDICTION;
    }
}

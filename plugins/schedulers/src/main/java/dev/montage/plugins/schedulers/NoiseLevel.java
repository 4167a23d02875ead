package dev.montage.plugins.schedulers;

/**
 * α, σ and λ = log α − log σ of a noise level σ̃ (α = 1/√(σ̃² + 1), σ = σ̃ α), in float32 as diffusers' multistep
 * solvers compute them.
 */
record NoiseLevel(float alpha, float sigma, float lambda) {

    static NoiseLevel of(float level) {
        float alpha = 1f / SchedulerRun.sqrt(level * level + 1f);
        float sigma = level * alpha;
        return new NoiseLevel(alpha, sigma, (float) Math.log(alpha) - (float) Math.log(sigma));
    }
}

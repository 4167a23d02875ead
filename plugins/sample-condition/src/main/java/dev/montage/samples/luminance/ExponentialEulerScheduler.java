package dev.montage.samples.luminance;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Scheduler;

/**
 * Euler sampling (Karras et al. 2022, algorithm 2 without churn) of an epsilon-predicting model on an exponential
 * sigma schedule: σ falls log-linearly from the training schedule's largest to its smallest value (k-diffusion's
 * {@code get_sigmas_exponential}), then to 0. The model's timestep for each σ is interpolated on the log-σ curve of
 * the training schedule, as diffusers does.
 */
final class ExponentialEulerScheduler implements Scheduler {
    /** σ of the training timesteps 0 … N−1, increasing. */
    private final double[] trainSigmas;

    /**
     * @param betas the training schedule's betas, one per training timestep
     */
    ExponentialEulerScheduler(double[] betas) {
        trainSigmas = new double[betas.length];
        double alphaCumprod = 1;
        for (int t = 0; t < betas.length; t++) {
            alphaCumprod *= 1 - betas[t];
            trainSigmas[t] = Math.sqrt((1 - alphaCumprod) / alphaCumprod);
        }
    }

    @Override
    public Run start(int steps, NDManager state) {
        if (steps < 1) {
            throw new IllegalArgumentException("sample-euler-exponential needs at least 1 step, got " + steps);
        }
        double logMax = Math.log(trainSigmas[trainSigmas.length - 1]);
        double logMin = Math.log(trainSigmas[0]);
        float[] sigmas = new float[steps + 1];
        float[] timesteps = new float[steps];
        for (int i = 0; i < steps; i++) {
            double logSigma = steps == 1 ? logMax : logMax + (logMin - logMax) * i / (steps - 1);
            sigmas[i] = (float) Math.exp(logSigma);
            timesteps[i] = (float) timestep(logSigma);
        }
        return new EulerRun(sigmas, timesteps);
    }

    /** The fractional training timestep whose σ is {@code exp(logSigma)}, linear in log σ between neighbours. */
    private double timestep(double logSigma) {
        int last = trainSigmas.length - 1;
        if (logSigma <= Math.log(trainSigmas[0])) {
            return 0;
        }
        if (logSigma >= Math.log(trainSigmas[last])) {
            return last;
        }
        int low = 0;
        while (Math.log(trainSigmas[low + 1]) < logSigma) {
            low++;
        }
        double a = Math.log(trainSigmas[low]);
        double b = Math.log(trainSigmas[low + 1]);
        return low + (logSigma - a) / (b - a);
    }

    /** One generation's walk down the schedule. */
    private record EulerRun(float[] sigmas, float[] timesteps) implements Run {
        @Override
        public float[] timesteps() {
            return timesteps.clone();
        }

        @Override
        public float initNoiseSigma() {
            return (float) Math.sqrt(sigmas[0] * sigmas[0] + 1.0);
        }

        @Override
        public NDArray scaleModelInput(NDArray latents, int index) {
            float sigma = sigmas[check(index)];
            return latents.div((float) Math.sqrt(sigma * sigma + 1.0));
        }

        /** x₀ = x − σ·ε, derivative d = (x − x₀)/σ, x_next = x + d·(σ_next − σ). */
        @Override
        public NDArray step(NDArray modelOutput, int index, NDArray latents) {
            float sigma = sigmas[check(index)];
            float dt = sigmas[index + 1] - sigma;
            NDManager caller = latents.getManager();
            try (NDManager scope = caller.newSubManager()) {
                NDArray x = Scopes.borrow(latents, scope);
                NDArray original = x.sub(Scopes.borrow(modelOutput, scope).mul(sigma));
                NDArray next = x.add(x.sub(original).div(sigma).mul(dt));
                next.attach(caller);
                return next;
            }
        }

        /** A run from a picture begins at {@code index} with x₀ + σ·ε, diffusers' {@code add_noise} of σ schedulers. */
        @Override
        public NDArray addNoise(NDArray original, NDArray noise, int index) {
            float sigma = sigmas[check(index)];
            NDManager caller = original.getManager();
            try (NDManager scope = caller.newSubManager()) {
                NDArray noised = Scopes.borrow(original, scope).add(Scopes.borrow(noise, scope).mul(sigma));
                noised.attach(caller);
                return noised;
            }
        }

        private int check(int index) {
            if (index < 0 || index >= timesteps.length) {
                throw new IllegalArgumentException("step index " + index + " outside 0.." + (timesteps.length - 1));
            }
            return index;
        }
    }
}

package dev.montage.runtime.config;

import dev.montage.runtime.engine.EngineConfig;

/**
 * Profile section {@code engine}: where and in which dtype to compute.
 *
 * @param device         {@code auto}, {@code cpu}, {@code cuda} or {@code cuda:N}
 * @param dtype          {@code auto}, {@code float32}, {@code float16} or {@code bfloat16}
 * @param threads        threads one operator may use (PyTorch intra-op), 0 = PyTorch's default
 * @param interopThreads threads running independent operators (PyTorch inter-op), 0 = PyTorch's default
 */
public record EngineSettings(String device, String dtype, int threads, int interopThreads) {

    /**
     * The engine configuration.
     *
     * @throws IllegalArgumentException naming a bad value (a validated profile has none)
     */
    public EngineConfig toConfig() {
        return new EngineConfig(device, dtype, threads, interopThreads);
    }
}

package dev.montage.runtime.engine;

import dev.montage.api.host.ComputeDType;

/**
 * What a started {@link MontageEngine} runs on, for logs and diagnostics.
 *
 * @param engineName     the DJL engine, {@code PyTorch}
 * @param engineVersion  the native library version, e.g. {@code 2.7.1}
 * @param device         {@code cpu} or {@code cuda:N}
 * @param computeDType   the dtype model code computes in
 * @param intraOpThreads threads one operator may use
 * @param interOpThreads threads for running independent operators
 */
public record EngineInfo(String engineName, String engineVersion, String device, ComputeDType computeDType,
                         int intraOpThreads, int interOpThreads) {

    /** One line, e.g. {@code PyTorch 2.7.1 on cpu, compute dtype bfloat16, threads 16 intra-op / 16 inter-op}. */
    public String describe() {
        return engineName + " " + engineVersion + " on " + device + ", compute dtype " + computeDType
                + ", threads " + intraOpThreads + " intra-op / " + interOpThreads + " inter-op";
    }
}

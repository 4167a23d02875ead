package dev.montage.runtime.engine;

import dev.montage.api.host.ComputeDType;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How to start the compute engine, as written in a profile or on the command line. Values are validated
 * and normalised on construction; which device and dtype {@code auto} becomes is decided by
 * {@link MontageEngine#start(EngineConfig)}, which knows the hardware.
 *
 * @param device         {@code auto} (first CUDA device if there is one, else the CPU), {@code cpu},
 *                       {@code cuda} (= {@code cuda:0}) or {@code cuda:N}; {@code null} means {@code auto}
 * @param dtype          {@code auto}, or a {@link ComputeDType#parse(String) compute dtype} name;
 *                       {@code null} means {@code auto}
 * @param intraOpThreads threads one operator may use; 0 keeps PyTorch's default
 * @param interOpThreads threads for running independent operators; 0 keeps PyTorch's default
 */
public record EngineConfig(String device, String dtype, int intraOpThreads, int interOpThreads) {
    /** The value that lets the engine choose. */
    public static final String AUTO = "auto";

    private static final Pattern DEVICE = Pattern.compile("auto|cpu|cuda(?::(\\d{1,4}))?");

    /**
     * @throws IllegalArgumentException naming the bad value and the accepted ones
     */
    public EngineConfig {
        device = normalise(device);
        if (!DEVICE.matcher(device).matches()) {
            throw new IllegalArgumentException(
                    "device '" + device + "' is not supported, expected auto, cpu, cuda or cuda:N (N = 0, 1, ...)");
        }
        dtype = normalise(dtype);
        if (!AUTO.equals(dtype)) {
            try {
                dtype = ComputeDType.parse(dtype).configName();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "dtype '" + dtype + "' is not supported, expected auto, float32, float16 or bfloat16", e);
            }
        }
        if (intraOpThreads < 0 || interOpThreads < 0) {
            throw new IllegalArgumentException("thread counts must be >= 0 (0 = PyTorch default), got intra-op "
                    + intraOpThreads + " and inter-op " + interOpThreads);
        }
    }

    /** Device and dtype {@code auto}, PyTorch's thread defaults. */
    public static EngineConfig defaults() {
        return new EngineConfig(AUTO, AUTO, 0, 0);
    }

    /** A configuration with PyTorch's thread defaults. */
    public static EngineConfig of(String device, String dtype) {
        return new EngineConfig(device, dtype, 0, 0);
    }

    /** The CUDA device index asked for, or -1 for {@code cpu} and {@code auto}. */
    public int cudaIndex() {
        Matcher m = DEVICE.matcher(device);
        if (!m.matches() || !device.startsWith("cuda")) {
            return -1;
        }
        return m.group(1) == null ? 0 : Integer.parseInt(m.group(1));
    }

    private static String normalise(String value) {
        return value == null ? AUTO : value.trim().toLowerCase(Locale.ROOT);
    }
}

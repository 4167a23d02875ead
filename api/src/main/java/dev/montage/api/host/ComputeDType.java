package dev.montage.api.host;

import java.util.Locale;

/**
 * The floating point type model code computes in. Chosen once per engine from configuration.
 *
 * <p>{@link #BFLOAT16} never appears as a DJL {@code DataType} in a call to DJL: the host's
 * {@link Kernels} create and convert bf16 tensors, which DJL then carries as opaque arrays.
 */
public enum ComputeDType {
    FLOAT32("float32"),
    FLOAT16("float16"),
    BFLOAT16("bfloat16");

    private final String configName;

    ComputeDType(String configName) {
        this.configName = configName;
    }

    /** The name used in profiles and on the command line. */
    public String configName() {
        return configName;
    }

    /**
     * Parses a configuration value ({@code float32|fp32, float16|fp16, bfloat16|bf16}).
     *
     * @throws IllegalArgumentException naming the value and the accepted ones
     */
    public static ComputeDType parse(String value) {
        switch (value == null ? "" : value.trim().toLowerCase(Locale.ROOT)) {
            case "float32":
            case "fp32":
                return FLOAT32;
            case "float16":
            case "fp16":
            case "half":
                return FLOAT16;
            case "bfloat16":
            case "bf16":
                return BFLOAT16;
            default:
                throw new IllegalArgumentException(
                        "dtype '" + value + "' is not supported, expected float32, float16 or bfloat16");
        }
    }

    @Override
    public String toString() {
        return configName;
    }
}

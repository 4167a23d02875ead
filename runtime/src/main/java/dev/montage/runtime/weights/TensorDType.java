package dev.montage.runtime.weights;

import java.util.Locale;

/**
 * Element types found in checkpoint files, with their safetensors names and byte widths.
 *
 * <p>This is the storage type of a tensor on disk, not the compute type: a BF16 checkpoint tensor is
 * converted before it ever reaches DJL, whose PyTorch JNI aborts the JVM on {@code DataType.BFLOAT16}.
 */
public enum TensorDType {
    F64("F64", 8),
    F32("F32", 4),
    F16("F16", 2),
    BF16("BF16", 2),
    I64("I64", 8),
    I32("I32", 4),
    I16("I16", 2),
    I8("I8", 1),
    U8("U8", 1),
    BOOL("BOOL", 1);

    private final String safetensorsName;
    private final int byteSize;

    TensorDType(String safetensorsName, int byteSize) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
    }

    /** The name used in safetensors headers, e.g. {@code "F16"}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** Whether the type holds floating point values. */
    public boolean isFloating() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    /**
     * Looks a safetensors dtype name up.
     *
     * @throws IllegalArgumentException naming the unknown type and the known ones
     */
    public static TensorDType fromSafetensors(String name) {
        for (TensorDType t : values()) {
            if (t.safetensorsName.equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException(
                "unknown dtype '" + name + "', expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL");
    }

    @Override
    public String toString() {
        return safetensorsName.toLowerCase(Locale.ROOT);
    }
}

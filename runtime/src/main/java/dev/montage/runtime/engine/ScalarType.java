package dev.montage.runtime.engine;

import dev.montage.api.host.ComputeDType;
import java.util.Locale;

/**
 * The compute dtypes as TorchScript kernel sources name them: by their {@code c10::ScalarType} id, the form in which
 * {@code torch.jit.save} writes dtypes into an archive's code, and the int that {@code x.dtype} evaluates to there.
 * A kernel source refers to them by placeholder ({@code ${float16}}, {@code ${float32}}, {@code ${bfloat16}}).
 */
enum ScalarType {
    /** {@code c10::ScalarType::Half}. */
    HALF(5, ComputeDType.FLOAT16),
    /** {@code c10::ScalarType::Float}. */
    FLOAT(6, ComputeDType.FLOAT32),
    /** {@code c10::ScalarType::BFloat16}. */
    BFLOAT16(15, ComputeDType.BFLOAT16);

    private final int id;
    private final ComputeDType dtype;

    ScalarType(int id, ComputeDType dtype) {
        this.id = id;
        this.dtype = dtype;
    }

    static ScalarType of(ComputeDType dtype) {
        for (ScalarType type : values()) {
            if (type.dtype == dtype) {
                return type;
            }
        }
        throw new IllegalArgumentException("no TorchScript scalar type for " + dtype);
    }

    int id() {
        return id;
    }

    /** The name kernel sources give it in a placeholder: the compute dtype's, in lower case. */
    String placeholder() {
        return dtype.name().toLowerCase(Locale.ROOT);
    }
}

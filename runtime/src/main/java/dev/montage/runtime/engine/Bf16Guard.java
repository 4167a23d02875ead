package dev.montage.runtime.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.Buffer;
import java.util.EnumSet;
import java.util.Set;

/**
 * Stops a {@link DataType} that DJL's PyTorch JNI cannot map from ever reaching it.
 *
 * <p>DJL 0.35's JNI converts a {@code DataType} to a torch scalar type with a bare C++ {@code throw;} for
 * the types it does not know, which calls {@code std::terminate} and kills the JVM without an exception.
 * Unknown are {@link DataType#BFLOAT16}, {@link DataType#UNKNOWN} (what a bf16 array reports from
 * {@code getDataType()}), {@code STRING}, {@code INT16} and the unsigned types above 8 bits. So besides
 * explicit requests such as {@code manager.zeros(shape, BFLOAT16)}, any DJL call that hands an array's own
 * dtype back to the JNI aborts on a bf16 array: {@code softmax}, {@code logSoftmax}, {@code zerosLike},
 * {@code onesLike}, {@code toDevice}, {@code manager.zeros(x.getShape(), x.getDataType())}. Runtime code
 * routes such calls through this class, which throws an {@link IllegalArgumentException} instead. bf16
 * arrays themselves are made with {@code Kernels.cast}; see {@code runtime/KERNELS.md} for the op table.
 */
public final class Bf16Guard {
    private static final Set<DataType> MAPPED_BY_JNI = EnumSet.of(DataType.FLOAT32, DataType.FLOAT64,
            DataType.FLOAT16, DataType.UINT8, DataType.INT32, DataType.INT8, DataType.INT64, DataType.BOOLEAN,
            DataType.COMPLEX64);

    private Bf16Guard() {
    }

    /**
     * Returns {@code type} when DJL's JNI can take it.
     *
     * @throws IllegalArgumentException for the types that would abort the JVM
     */
    public static DataType check(DataType type) {
        if (MAPPED_BY_JNI.contains(type)) {
            return type;
        }
        String advice = switch (type) {
            case BFLOAT16 -> "create the array in float32 and convert it with Kernels.cast(x, ComputeDType.BFLOAT16)";
            case UNKNOWN -> "this is what DJL reports for bf16 arrays; convert with Kernels.cast to float32 first, "
                    + "or build the value in float32 and cast the result";
            default -> "use a 32-bit or 64-bit integer or a float type";
        };
        throw new IllegalArgumentException("DataType." + type.name() + " cannot be passed to DJL: its PyTorch JNI "
                + "has no mapping for it and would abort the JVM; " + advice);
    }

    /**
     * Returns {@code array} when its dtype can be handed back to DJL, for ops that do so implicitly
     * ({@code softmax}, {@code zerosLike}, {@code onesLike}, {@code toDevice}, ...).
     *
     * @param operation what the caller is about to do, for the message
     * @throws IllegalArgumentException for bf16 arrays and the other unmapped types
     */
    public static NDArray checkArray(NDArray array, String operation) {
        try {
            check(array.getDataType());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(operation + " of an array of shape " + array.getShape()
                    + " is not possible in DJL: " + e.getMessage(), e);
        }
        return array;
    }

    /** {@link NDManager#create(Buffer, Shape, DataType)} that rejects unmapped types instead of aborting. */
    public static NDArray create(NDManager manager, Buffer data, Shape shape, DataType type) {
        return manager.create(data, shape, check(type));
    }

    /** {@link NDManager#zeros(Shape, DataType)} that rejects unmapped types instead of aborting. */
    public static NDArray zeros(NDManager manager, Shape shape, DataType type) {
        return manager.zeros(shape, check(type));
    }

    /**
     * {@link NDArray#toType(DataType, boolean)} that rejects unmapped target types instead of aborting. The
     * source may be bf16: converting one to float32 or float16 through DJL is safe.
     */
    public static NDArray toType(NDArray array, DataType type, boolean copy) {
        return array.toType(check(type), copy);
    }
}

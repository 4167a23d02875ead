package dev.montage.runtime.weights;

import java.util.Optional;

/**
 * The Python globals a {@code torch.save} weight checkpoint may reference: the allow-list of the
 * restricted unpickler, and the vocabulary of the checkpoint writer.
 *
 * <p>Everything else ({@code os.system}, {@code builtins.eval}, model classes, ...) is refused: a pickle
 * can call any global it names, so the allow-list is what stands between a downloaded checkpoint and
 * arbitrary code execution.
 */
enum TorchGlobal {
    ORDERED_DICT("collections", "OrderedDict", null),
    REBUILD_TENSOR_V2("torch._utils", "_rebuild_tensor_v2", null),
    REBUILD_PARAMETER("torch._utils", "_rebuild_parameter", null),
    DOUBLE_STORAGE("torch", "DoubleStorage", TensorDType.F64),
    FLOAT_STORAGE("torch", "FloatStorage", TensorDType.F32),
    HALF_STORAGE("torch", "HalfStorage", TensorDType.F16),
    BFLOAT16_STORAGE("torch", "BFloat16Storage", TensorDType.BF16),
    LONG_STORAGE("torch", "LongStorage", TensorDType.I64),
    INT_STORAGE("torch", "IntStorage", TensorDType.I32),
    SHORT_STORAGE("torch", "ShortStorage", TensorDType.I16),
    CHAR_STORAGE("torch", "CharStorage", TensorDType.I8),
    BYTE_STORAGE("torch", "ByteStorage", TensorDType.U8),
    BOOL_STORAGE("torch", "BoolStorage", TensorDType.BOOL);

    private final String module;
    private final String name;
    private final TensorDType storageDType;

    TorchGlobal(String module, String name, TensorDType storageDType) {
        this.module = module;
        this.name = name;
        this.storageDType = storageDType;
    }

    String module() {
        return module;
    }

    String globalName() {
        return name;
    }

    /** The element type of a typed storage class, or {@code null} for the callables. */
    TensorDType storageDType() {
        return storageDType;
    }

    /** The allowed global with this module and name, if there is one. */
    static Optional<TorchGlobal> lookup(String module, String name) {
        for (TorchGlobal g : values()) {
            if (g.module.equals(module) && g.name.equals(name)) {
                return Optional.of(g);
            }
        }
        return Optional.empty();
    }

    /** The typed storage class torch pickles for tensors of this element type. */
    static TorchGlobal storageFor(TensorDType dtype) {
        for (TorchGlobal g : values()) {
            if (g.storageDType == dtype) {
                return g;
            }
        }
        throw new IllegalArgumentException("no torch storage type for " + dtype);
    }

    @Override
    public String toString() {
        return module + "." + name;
    }
}

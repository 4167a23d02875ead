package dev.montage.runtime.weights;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@link ModelWeights} over a {@link TensorSource}: hands out tensors on the engine's device in its compute
 * dtype. Floating point checkpoint tensors of any storage type (F32, F16, BF16, F64) are converted to the
 * compute dtype; integer and boolean tensors keep their type.
 *
 * <p>On the CPU an F32 tensor in F32 compute is a view of the memory-mapped file (no copy); model code
 * never writes into weights.
 */
public final class CheckpointWeights implements ModelWeights {
    private static final int MIN_STAGING_BYTES = 64 << 20;
    /** Stored bytes on their way to a converted array; one for the process, grown to the largest tensor read. */
    private static ByteBuffer staging;

    private final TensorSource source;
    private final String prefix;
    private final Set<String> names;
    private final Device device;
    private final ComputeDType dtype;
    private final Kernels kernels;

    /**
     * @param source  the checkpoint (stays owned by the caller)
     * @param device  where tensors are placed
     * @param dtype   the compute dtype floating point tensors are converted to
     * @param kernels converts to bf16, which DJL cannot be asked for
     */
    public CheckpointWeights(TensorSource source, Device device, ComputeDType dtype, Kernels kernels) {
        this(source, "", source.names(), device, dtype, kernels);
    }

    private CheckpointWeights(TensorSource source, String prefix, Set<String> names, Device device,
            ComputeDType dtype, Kernels kernels) {
        this.source = source;
        this.prefix = prefix;
        this.names = Collections.unmodifiableSet(names);
        this.device = device;
        this.dtype = dtype;
        this.kernels = kernels;
    }

    @Override
    public String source() {
        return prefix.isEmpty() ? source.path().toString() : source.path() + " [" + prefix.substring(0,
                prefix.length() - 1) + "]";
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public long[] shape(String name) {
        return source.info(fullName(name)).shape();
    }

    @Override
    public NDArray get(String name, NDManager manager) {
        String full = fullName(name);
        TensorInfo info = source.info(full);
        if (!converted(info.dtype())) {
            return toArray(source.tensor(full), manager);
        }
        // the stored values are copied by the conversion anyway: read them through one reused buffer instead of
        // mapping the file, whose pages would otherwise stay resident next to the converted copy until a GC
        synchronized (CheckpointWeights.class) {
            long bytes = RawTensor.numel(info.shape()) * info.dtype().byteSize();
            if (staging == null || staging.capacity() < bytes) {
                staging = ByteBuffer.allocateDirect(Math.toIntExact(Math.max(bytes, MIN_STAGING_BYTES)));
            }
            return toArray(source.read(full, staging.clear()), manager);
        }
    }

    /** Whether a tensor stored as {@code stored} becomes a new array in the compute dtype (not a view of its bytes). */
    private boolean converted(TensorDType stored) {
        return switch (stored) {
            case F64, BF16 -> true;
            case F32 -> dtype != ComputeDType.FLOAT32;
            case F16 -> dtype != ComputeDType.FLOAT16;
            default -> false;
        };
    }

    @Override
    public NDArray get(String name, NDManager manager, long... expectedShape) {
        long[] actual = shape(name);
        if (!Arrays.equals(actual, expectedShape)) {
            throw new IllegalArgumentException(source() + ": tensor '" + name + "' has shape "
                    + Arrays.toString(actual) + ", expected " + Arrays.toString(expectedShape));
        }
        return get(name, manager);
    }

    @Override
    public ModelWeights prefixed(String subPrefix) {
        String p = subPrefix + ".";
        Set<String> sub = new LinkedHashSet<>();
        for (String n : names) {
            if (n.startsWith(p)) {
                sub.add(n.substring(p.length()));
            }
        }
        return new CheckpointWeights(source, prefix + p, sub, device, dtype, kernels);
    }

    @Override
    public void requireExactly(Collection<String> expected) {
        Set<String> missing = new TreeSet<>(expected);
        missing.removeAll(names);
        Set<String> unexpected = new TreeSet<>(names);
        unexpected.removeAll(expected);
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            throw new IllegalArgumentException(source() + " does not match the model: " + missing.size()
                    + " missing " + abbreviate(missing) + ", " + unexpected.size() + " unexpected "
                    + abbreviate(unexpected));
        }
    }

    private static String abbreviate(Set<String> names) {
        List<String> list = List.copyOf(names);
        return list.size() <= 20 ? list.toString() : list.subList(0, 20) + " and " + (list.size() - 20) + " more";
    }

    private String fullName(String name) {
        if (!names.contains(name)) {
            throw new IllegalArgumentException(source() + " has no tensor '" + name + "'");
        }
        return prefix + name;
    }

    private NDArray toArray(RawTensor t, NDManager manager) {
        Shape shape = new Shape(t.shape());
        NDArray stored = switch (t.dtype()) {
            // DJL cannot be handed BF16; widening to F32 is exact, and bf16 compute narrows back exactly
            case BF16 -> manager.create(t.toFloatArray(), shape);
            case F64 -> manager.create(t.data(), shape, DataType.FLOAT64);
            case F32 -> manager.create(t.data(), shape, DataType.FLOAT32);
            case F16 -> manager.create(t.data(), shape, DataType.FLOAT16);
            case I64 -> manager.create(t.data(), shape, DataType.INT64);
            case I32 -> manager.create(t.data(), shape, DataType.INT32);
            case I16 -> manager.create(t.data(), shape, DataType.INT16);
            case I8 -> manager.create(t.data(), shape, DataType.INT8);
            case U8 -> manager.create(t.data(), shape, DataType.UINT8);
            case BOOL -> manager.create(t.data(), shape, DataType.BOOLEAN);
        };
        NDArray placed = stored.getDevice().equals(device) ? stored : replace(stored, stored.toDevice(device, false));
        if (!t.dtype().isFloating()) {
            return placed;
        }
        return switch (dtype) {
            case FLOAT32 -> placed.getDataType() == DataType.FLOAT32 ? placed
                    : replace(placed, placed.toType(DataType.FLOAT32, false));
            case FLOAT16 -> placed.getDataType() == DataType.FLOAT16 ? placed
                    : replace(placed, placed.toType(DataType.FLOAT16, false));
            case BFLOAT16 -> replace(placed, kernels.cast(placed, ComputeDType.BFLOAT16));
        };
    }

    private static NDArray replace(NDArray old, NDArray fresh) {
        if (fresh != old) {
            old.close();
        }
        return fresh;
    }
}

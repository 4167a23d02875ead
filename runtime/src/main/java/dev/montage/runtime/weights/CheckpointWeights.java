package dev.montage.runtime.weights;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.engine.TorchScriptKernels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.ShortBuffer;
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
 * compute dtype; integer and boolean tensors keep their type, except I16, which becomes int32.
 *
 * <p>On the CPU an F32 tensor in F32 compute is a view of the memory-mapped file (no copy); model code
 * never writes into weights. A BF16 tensor in bf16 compute is read once and its bits copied into the array (with the
 * engine's {@link TorchScriptKernels}); in other compute dtypes it is widened to float32 first, which is exact.
 */
public final class CheckpointWeights implements ModelWeights {
    private final TensorSource source;
    private final StagingBuffer staging;
    private final String prefix;
    private final Set<String> names;
    private final Device device;
    private final ComputeDType dtype;
    private final Kernels kernels;

    /**
     * Weights with a staging buffer of their own, freed when they become unreachable.
     *
     * @param source  the checkpoint (stays owned by the caller)
     * @param device  where tensors are placed
     * @param dtype   the compute dtype floating point tensors are converted to
     * @param kernels converts to bf16, which DJL cannot be asked for
     */
    public CheckpointWeights(TensorSource source, Device device, ComputeDType dtype, Kernels kernels) {
        this(source, new StagingBuffer(), device, dtype, kernels);
    }

    /**
     * @param staging the buffer converted tensors are read through (stays owned by the caller, who releases it
     *                when the load is over)
     */
    public CheckpointWeights(TensorSource source, StagingBuffer staging, Device device, ComputeDType dtype,
            Kernels kernels) {
        this(source, staging, "", source.names(), device, dtype, kernels);
    }

    private CheckpointWeights(TensorSource source, StagingBuffer staging, String prefix, Set<String> names,
            Device device, ComputeDType dtype, Kernels kernels) {
        this.source = source;
        this.staging = staging;
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
            return toArray(source.tensor(full), manager, false);
        }
        // the stored values are copied by the conversion anyway: read them through one reused buffer instead of
        // mapping the file, whose pages would otherwise stay resident next to the converted copy until a GC
        long bytes = RawTensor.numel(info.shape()) * info.dtype().byteSize();
        if (info.dtype() == TensorDType.BF16 && dtype == ComputeDType.BFLOAT16
                && kernels instanceof TorchScriptKernels engine) {
            // bf16 stays bf16: its bits are copied out of the buffer in one pass, not widened and narrowed again
            return staging.use(bytes, buffer -> {
                RawTensor stored = source.read(full, buffer);
                try (NDArray bits = manager.create(stored.data(), new Shape(stored.shape()), DataType.FLOAT16)) {
                    NDArray placed = bits.getDevice().equals(device) ? bits : bits.toDevice(device, false);
                    return replace(placed, engine.bfloat16Bits(placed));
                }
            });
        }
        long room = info.dtype() == TensorDType.BF16 ? 2 * bytes : bytes;
        return staging.use(room, buffer -> {
            RawTensor stored = source.read(full, buffer);
            return toArray(stored.dtype() == TensorDType.BF16 ? widenedInStaging(stored, buffer) : stored, manager,
                    true);
        });
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
        return new CheckpointWeights(source, staging, prefix + p, sub, device, dtype, kernels);
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

    /** @param staged whether {@code t} views the staging buffer, which the next read overwrites or a release frees */
    private NDArray toArray(RawTensor t, NDManager manager, boolean staged) {
        Shape shape = new Shape(t.shape());
        NDArray stored = switch (t.dtype()) {
            case BF16 -> throw new IllegalStateException("bf16 tensor '" + t.name() + "' was not widened");
            case F64 -> manager.create(t.data(), shape, DataType.FLOAT64);
            case F32 -> manager.create(t.data(), shape, DataType.FLOAT32);
            case F16 -> manager.create(t.data(), shape, DataType.FLOAT16);
            case I64 -> manager.create(t.data(), shape, DataType.INT64);
            case I32 -> manager.create(t.data(), shape, DataType.INT32);
            // DJL's PyTorch binding aborts the JVM on int16 arrays; no model has such tensors, so widening is cheap
            case I16 -> manager.create(widenedInt16(t), shape);
            case I8 -> manager.create(t.data(), shape, DataType.INT8);
            case U8 -> manager.create(t.data(), shape, DataType.UINT8);
            case BOOL -> manager.create(t.data(), shape, DataType.BOOLEAN);
        };
        NDArray placed = stored.getDevice().equals(device) ? stored : replace(stored, stored.toDevice(device, false));
        if (!t.dtype().isFloating()) {
            return placed;
        }
        NDArray converted = switch (dtype) {
            case FLOAT32 -> placed.getDataType() == DataType.FLOAT32 ? placed
                    : replace(placed, placed.toType(DataType.FLOAT32, false));
            case FLOAT16 -> placed.getDataType() == DataType.FLOAT16 ? placed
                    : replace(placed, placed.toType(DataType.FLOAT16, false));
            case BFLOAT16 -> replace(placed, kernels.cast(placed, ComputeDType.BFLOAT16));
        };
        // a widened bf16 tensor is float32 already: float32 compute would keep the staging bytes themselves
        return staged && converted == stored ? replace(stored, stored.duplicate()) : converted;
    }

    /**
     * A bf16 tensor read to the start of the staging buffer as float32 in the same buffer, widened in place (DJL
     * cannot be handed bf16; a float32 bit pattern is the bf16 one followed by 16 zero bits, so this is exact).
     */
    private static RawTensor widenedInStaging(RawTensor stored, ByteBuffer staging) {
        int n = Math.toIntExact(stored.numel());
        ShortBuffer bits = stored.data().asShortBuffer();
        IntBuffer widened = staging.duplicate().order(ByteOrder.LITTLE_ENDIAN).asIntBuffer();
        // backwards: element i goes to bytes [4i, 4i + 4), which only overlap stored elements after i, already read
        for (int i = n - 1; i >= 0; i--) {
            widened.put(i, (bits.get(i) & 0xFFFF) << 16);
        }
        return new RawTensor(stored.name(), TensorDType.F32, stored.shape(),
                staging.slice(0, 4 * n).order(ByteOrder.LITTLE_ENDIAN));
    }

    private static int[] widenedInt16(RawTensor t) {
        ShortBuffer stored = t.data().asShortBuffer();
        int[] values = new int[stored.remaining()];
        for (int i = 0; i < values.length; i++) {
            values[i] = stored.get(i);
        }
        return values;
    }

    private static NDArray replace(NDArray old, NDArray fresh) {
        if (fresh != old) {
            old.close();
        }
        return fresh;
    }
}

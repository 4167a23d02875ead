package dev.montage.runtime.weights;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor as stored in a checkpoint: name, storage dtype, shape and its little-endian bytes.
 *
 * <p>The bytes are a read-only view, usually into a memory-mapped file; no copy is made until a
 * consumer asks for one. Contiguous row-major (C order) layout.
 */
public final class RawTensor {
    private final String name;
    private final TensorDType dtype;
    private final long[] shape;
    private final ByteBuffer data;

    /**
     * @param data exactly {@code numel(shape) * dtype.byteSize()} bytes, little-endian
     * @throws IllegalArgumentException when the byte count does not match dtype and shape
     */
    public RawTensor(String name, TensorDType dtype, long[] shape, ByteBuffer data) {
        this.name = Objects.requireNonNull(name, "name");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape.clone();
        long expected = numel(shape) * dtype.byteSize();
        if (data.remaining() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': " + data.remaining() + " bytes for dtype "
                    + dtype + " and shape " + Arrays.toString(shape) + ", expected " + expected);
        }
        this.data = data.slice().order(ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    public String name() {
        return name;
    }

    public TensorDType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public long numel() {
        return numel(shape);
    }

    /** A fresh read-only little-endian view of the bytes (position 0). */
    public ByteBuffer data() {
        return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The same bytes under another name (used when flattening nested checkpoints). */
    public RawTensor renamed(String newName) {
        return new RawTensor(newName, dtype, shape, data());
    }

    /**
     * Decodes the values as float32 (F16 and BF16 are widened exactly; integer types are converted).
     *
     * @throws IllegalStateException when the tensor has more than {@code Integer.MAX_VALUE} elements
     */
    public float[] toFloatArray() {
        long n = numel();
        if (n > Integer.MAX_VALUE) {
            throw new IllegalStateException("tensor '" + name + "' has " + n + " elements, too many for a Java array");
        }
        float[] out = new float[(int) n];
        ByteBuffer b = data();
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (dtype) {
                case F64 -> (float) b.getDouble();
                case F32 -> b.getFloat();
                case F16 -> HalfFloats.toFloat(b.getShort());
                case BF16 -> HalfFloats.bf16ToFloat(b.getShort());
                case I64 -> b.getLong();
                case I32 -> b.getInt();
                case I16 -> b.getShort();
                case I8 -> b.get();
                case U8 -> b.get() & 0xFF;
                case BOOL -> b.get() != 0 ? 1f : 0f;
            };
        }
        return out;
    }

    /** Number of elements of a shape (1 for a scalar). */
    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}

package dev.montage.runtime.weights;

import java.util.Arrays;
import java.util.Objects;

/**
 * What a checkpoint says about one tensor without reading its data: name, storage dtype and shape.
 *
 * @param name the tensor's key in the checkpoint
 * @param dtype the storage type
 * @param shape the dimensions, row-major; empty for a scalar (the array is copied in and out)
 */
public record TensorInfo(String name, TensorDType dtype, long[] shape) {
    /**
     * @throws IllegalArgumentException for a negative dimension or an element count overflowing a long
     */
    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        byteSize(dtype, shape);
    }

    /** A copy of the shape. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (1 for a scalar). */
    public long numel() {
        return RawTensor.numel(shape);
    }

    /** Number of bytes of the data: {@code numel() * dtype.byteSize()}. */
    public long byteSize() {
        return byteSize(dtype, shape);
    }

    /**
     * Bytes needed by a tensor of this dtype and shape.
     *
     * @throws IllegalArgumentException for a negative dimension or a size that overflows a long
     */
    static long byteSize(TensorDType dtype, long[] shape) {
        try {
            return Math.multiplyExact(RawTensor.numel(shape), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(
                    "shape " + Arrays.toString(shape) + " of dtype " + dtype + " overflows a 64-bit byte count", e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo other
                && name.equals(other.name) && dtype == other.dtype && Arrays.equals(shape, other.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}

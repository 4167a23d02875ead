package dev.montage.api.spi;

import java.util.Arrays;
import java.util.Objects;

/**
 * Where one tensor a component reads lies in a file of another layout ({@link SingleFileLayout}): the stored tensor,
 * and how its elements become the component's tensor. The host applies it each time the tensor is read, without
 * writing a converted copy: first the rows {@code [firstRow, firstRow + rowCount)} of the first dimension (all of them
 * when {@code rowCount} is negative), then, when {@code transposed}, the transpose of that 2-D matrix, then the same
 * elements in row-major order viewed as {@code shape}.
 *
 * @param source     the stored tensor's name in the file
 * @param shape      the shape the component reads
 * @param firstRow   the first row taken of the stored tensor
 * @param rowCount   how many rows are taken, negative for all
 * @param transposed whether the (row-sliced) 2-D matrix is transposed
 */
public record MappedTensor(String source, long[] shape, long firstRow, long rowCount, boolean transposed) {

    public MappedTensor {
        Objects.requireNonNull(source, "source");
        shape = shape.clone();
        if (firstRow < 0) {
            throw new IllegalArgumentException("first row " + firstRow + " of '" + source + "' is negative");
        }
    }

    /**
     * The stored tensor's elements in {@code shape}: its own shape, or another, e.g. a 1x1 convolution's weight as a
     * matrix.
     */
    public static MappedTensor of(String source, long... shape) {
        return new MappedTensor(source, shape, 0, -1, false);
    }

    /** Rows {@code [first, first + count)} of the stored tensor, e.g. one of the projections of a fused one. */
    public static MappedTensor rows(String source, long first, long count, long... shape) {
        return new MappedTensor(source, shape, first, count, false);
    }

    /** The transpose of a stored 2-D tensor. */
    public static MappedTensor transposed(String source, long... shape) {
        return new MappedTensor(source, shape, 0, -1, true);
    }

    /** A copy of the shape the component reads. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Whether a stored tensor of this shape yields {@link #shape()}. */
    public boolean fits(long[] stored) {
        if (stored.length == 0) {
            return rowCount < 0 && !transposed && numel(shape) == 1;
        }
        long rows = rowCount < 0 ? stored[0] - firstRow : rowCount;
        if (firstRow + rows > stored[0]) {
            return false;
        }
        long[] taken = stored.clone();
        taken[0] = rows;
        if (transposed) {
            return taken.length == 2 && shape.length == 2 && taken[0] == shape[1] && taken[1] == shape[0];
        }
        return numel(taken) == numel(shape);
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MappedTensor m && source.equals(m.source) && Arrays.equals(shape, m.shape)
                && firstRow == m.firstRow && rowCount == m.rowCount && transposed == m.transposed;
    }

    @Override
    public int hashCode() {
        return Objects.hash(source, Arrays.hashCode(shape), firstRow, rowCount, transposed);
    }

    @Override
    public String toString() {
        return source + (rowCount >= 0 ? "[" + firstRow + ":" + (firstRow + rowCount) + "]" : "")
                + (transposed ? ".T" : "") + " as " + Arrays.toString(shape);
    }
}

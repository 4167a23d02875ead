package dev.montage.runtime.weights;

import dev.montage.api.spi.MappedTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A component's view of a file of another layout: its tensors by the component's names, each read from the stored
 * tensor a {@link MappedTensor} names. Row slices and reshapes view the stored bytes (no copy); a transpose copies
 * the tensor, which only small ones need (a text projection).
 */
public final class MappedTensorSource implements TensorSource {
    private final TensorSource file;
    private final Map<String, MappedTensor> view;

    /**
     * @param file the stored tensors (stays owned by the caller)
     * @param view where each of the component's tensors lies in {@code file}
     */
    public MappedTensorSource(TensorSource file, Map<String, MappedTensor> view) {
        this.file = file;
        this.view = Collections.unmodifiableMap(new LinkedHashMap<>(view));
    }

    @Override
    public Path path() {
        return file.path();
    }

    @Override
    public Set<String> names() {
        return view.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        MappedTensor m = mapped(name);
        return new TensorInfo(name, file.info(m.source()).dtype(), m.shape());
    }

    @Override
    public RawTensor tensor(String name) {
        MappedTensor m = mapped(name);
        RawTensor stored = file.tensor(m.source());
        long[] storedShape = stored.shape();
        requireFits(m, storedShape);
        ByteBuffer data = stored.data();
        if (storedShape.length > 0 && m.rowCount() >= 0) {
            long rowBytes = stored.numel() / storedShape[0] * stored.dtype().byteSize();
            data = data.slice(Math.toIntExact(m.firstRow() * rowBytes), Math.toIntExact(m.rowCount() * rowBytes));
        }
        if (m.transposed()) {
            long[] shape = m.shape();
            data = transposed(data, Math.toIntExact(shape[1]), Math.toIntExact(shape[0]), stored.dtype().byteSize());
        }
        return new RawTensor(name, stored.dtype(), m.shape(), data);
    }

    /**
     * A tensor the component reads whole and untransposed is read as its source reads it (a safetensors file copies it
     * into the buffer without mapping it, as for a folder's file); a row range or a transpose is copied from its view.
     */
    @Override
    public RawTensor read(String name, ByteBuffer buffer) {
        MappedTensor m = mapped(name);
        if (m.transposed() || m.rowCount() >= 0) {
            return TensorSource.super.read(name, buffer);
        }
        requireFits(m, file.info(m.source()).shape());
        RawTensor stored = file.read(m.source(), buffer);
        return new RawTensor(name, stored.dtype(), m.shape(), stored.data());
    }

    /** The transpose of a row-major {@code rows x cols} matrix of {@code size}-byte elements. */
    static ByteBuffer transposed(ByteBuffer data, int rows, int cols, int size) {
        ByteBuffer out = ByteBuffer.allocate(data.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out.put((c * rows + r) * size, data, (r * cols + c) * size, size);
            }
        }
        return out;
    }

    @Override
    public Map<String, String> metadata() {
        return file.metadata();
    }

    /** Nothing to release: the file stays owned by whoever opened it. */
    @Override
    public void close() {
    }

    private void requireFits(MappedTensor m, long[] stored) {
        if (!m.fits(stored)) {
            throw new WeightFormatException(file.path() + ": tensor '" + m.source() + "' cannot be read as " + m);
        }
    }

    private MappedTensor mapped(String name) {
        MappedTensor m = view.get(name);
        if (m == null) {
            throw new WeightFormatException(file.path() + " has no tensor that reads as '" + name + "'");
        }
        return m;
    }
}

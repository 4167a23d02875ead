package dev.montage.runtime.weights;

import dev.montage.api.spi.MappedTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The inverse of {@link MappedTensorSource}: the tensors of a file in another layout, made from a component's own
 * tensors through the component's view of such a file. A stored tensor that one component tensor reads whole is
 * that tensor's bytes (a view of its file, no copy); one that several read by rows is their rows joined, and a
 * transposed one is transposed back, each copied when it is read.
 */
public final class UnmappedTensorSource implements TensorSource {
    private final TensorSource component;
    private final Map<String, TensorInfo> stored;
    /** By stored name, the component tensors that read it, by first row. */
    private final Map<String, List<Map.Entry<String, MappedTensor>>> parts;

    /**
     * @param component the component's tensors by its names (stays owned by the caller)
     * @param stored    the file's tensors: name → shape, in the order {@link #names()} lists them
     * @param view      where each of the component's tensors lies in such a file
     * @throws IllegalArgumentException naming the tensors, when the view does not read every stored tensor exactly
     *     once (whole, or by rows that tile it), reads one that is not stored, or when a component tensor is
     *     missing, of another shape than the view reads, or of another dtype than the others of its stored tensor
     */
    public UnmappedTensorSource(TensorSource component, Map<String, long[]> stored, Map<String, MappedTensor> view) {
        this.component = component;
        Map<String, List<Map.Entry<String, MappedTensor>>> bySource = new LinkedHashMap<>();
        for (Map.Entry<String, MappedTensor> e : view.entrySet()) {
            if (!stored.containsKey(e.getValue().source())) {
                throw new IllegalArgumentException("'" + e.getKey() + "' is read from " + e.getValue()
                        + ", which is not among the stored tensors");
            }
            bySource.computeIfAbsent(e.getValue().source(), s -> new ArrayList<>()).add(Map.entry(e.getKey(),
                    e.getValue()));
        }
        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        Map<String, List<Map.Entry<String, MappedTensor>>> tiled = new LinkedHashMap<>();
        stored.forEach((name, shape) -> {
            List<Map.Entry<String, MappedTensor>> reads = new ArrayList<>(bySource.getOrDefault(name, List.of()));
            reads.sort(Comparator.comparingLong(r -> r.getValue().firstRow()));
            checkTiling(name, shape, reads);
            TensorDType dtype = null;
            for (Map.Entry<String, MappedTensor> r : reads) {
                TensorInfo info = component.info(r.getKey());
                if (!Arrays.equals(info.shape(), r.getValue().shape())) {
                    throw new IllegalArgumentException("'" + r.getKey() + "' of " + component.path() + " is "
                            + Arrays.toString(info.shape()) + ", expected " + Arrays.toString(r.getValue().shape())
                            + " (to be stored as " + r.getValue() + ")");
                }
                if (dtype != null && info.dtype() != dtype) {
                    throw new IllegalArgumentException("'" + r.getKey() + "' of " + component.path() + " is "
                            + info.dtype() + ", the other parts of '" + name + "' " + dtype);
                }
                dtype = info.dtype();
            }
            infos.put(name, new TensorInfo(name, dtype, shape));
            tiled.put(name, List.copyOf(reads));
        });
        this.stored = Collections.unmodifiableMap(infos);
        this.parts = tiled;
    }

    /** Checks that the reads cover the stored tensor exactly: one whole, or row ranges without gap or overlap. */
    private static void checkTiling(String name, long[] shape, List<Map.Entry<String, MappedTensor>> reads) {
        if (reads.isEmpty()) {
            throw new IllegalArgumentException("no tensor is stored as '" + name + "'");
        }
        for (Map.Entry<String, MappedTensor> r : reads) {
            if (!r.getValue().fits(shape)) {
                throw new IllegalArgumentException("'" + name + "' " + Arrays.toString(shape) + " cannot be read as "
                        + r.getValue() + " ('" + r.getKey() + "')");
            }
        }
        boolean whole = reads.size() == 1 && reads.get(0).getValue().rowCount() < 0;
        long next = 0;
        for (Map.Entry<String, MappedTensor> r : reads) {
            MappedTensor m = r.getValue();
            if (m.rowCount() < 0 || m.firstRow() != next) {
                break;
            }
            next += m.rowCount();
        }
        if (!whole && next != shape[0]) {
            throw new IllegalArgumentException("'" + name + "' " + Arrays.toString(shape)
                    + " is not read exactly once: " + reads.stream().map(Map.Entry::getValue).toList());
        }
    }

    @Override
    public Path path() {
        return component.path();
    }

    @Override
    public Set<String> names() {
        return stored.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo info = stored.get(name);
        if (info == null) {
            throw new WeightFormatException("no tensor '" + name + "' is made from " + component.path());
        }
        return info;
    }

    @Override
    public RawTensor tensor(String name) {
        TensorInfo info = info(name);
        List<Map.Entry<String, MappedTensor>> reads = parts.get(name);
        MappedTensor first = reads.get(0).getValue();
        if (reads.size() == 1 && !first.transposed()) {
            return new RawTensor(name, info.dtype(), info.shape(), component.tensor(reads.get(0).getKey()).data());
        }
        long[] shape = info.shape();
        int size = info.dtype().byteSize();
        long rowBytes = RawTensor.numel(shape) / shape[0] * size;
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(info.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
        for (Map.Entry<String, MappedTensor> r : reads) {
            MappedTensor m = r.getValue();
            ByteBuffer mapped = component.tensor(r.getKey()).data();
            long[] read = m.shape();
            ByteBuffer data = m.transposed()
                    ? MappedTensorSource.transposed(mapped, Math.toIntExact(read[0]), Math.toIntExact(read[1]), size)
                    : mapped;
            out.put(Math.toIntExact(m.firstRow() * rowBytes), data, 0, data.remaining());
            // copied: the pages of the component's file need not stay resident
            MappedPages.drop(mapped);
        }
        return new RawTensor(name, info.dtype(), shape, out);
    }

    /** None: the component's metadata describes its own file. */
    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    /** Nothing to release: the component's tensors stay owned by whoever opened them. */
    @Override
    public void close() {
    }
}

package dev.montage.runtime.weights;

import dev.montage.runtime.output.AtomicFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.function.Supplier;

/**
 * Writes {@code .safetensors} files byte for byte as the reference Rust library ({@code safetensors}
 * {@code serialize_to_file}, used by Python's {@code save_file}) does: compact JSON header with
 * {@code __metadata__} first, tensors ordered by descending dtype rank (the Rust {@code Dtype} declaration
 * order, which puts wider types first so that every tensor stays aligned) then by name, header padded with
 * spaces to a multiple of 8 bytes, data in the same order.
 *
 * <p>Data is streamed: tensors are collected first (the header needs all of them), then each one's bytes
 * are written in turn. {@link #addLazy} defers producing a tensor's bytes until it is written, so a large
 * random model can be generated with one tensor in memory at a time.
 *
 * <p>Metadata keys are written in sorted order, so output is deterministic (the Rust library keeps them in
 * a hash map, whose order is arbitrary).
 *
 * <pre>{@code
 * new SafetensorsWriter().metadata("format", "pt").add(tensor).write(path);
 * }</pre>
 */
public final class SafetensorsWriter {
    /** Daemons, so that a supplier that never returns cannot keep the JVM alive. */
    private static final ThreadFactory PRODUCER_THREADS = task -> {
        Thread thread = new Thread(task, "safetensors-producer");
        thread.setDaemon(true);
        return thread;
    };

    private final Map<String, String> metadata = new TreeMap<>(SafetensorsWriter::compareUtf8);
    private final List<Pending> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private int producedAhead;

    /**
     * A tensor to be written; {@code data} is called once, at write time, and its pages are dropped from resident
     * memory once written where {@code mapped} (a view of a file that nothing else holds on to).
     */
    private record Pending(TensorInfo info, Supplier<ByteBuffer> data, boolean mapped) {
    }

    /** Adds one {@code __metadata__} entry (replacing an earlier value of the same key). */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    /** Adds all entries of a metadata map. */
    public SafetensorsWriter metadata(Map<String, String> entries) {
        entries.forEach(this::metadata);
        return this;
    }

    /** Adds a tensor (e.g. one read from another checkpoint; its bytes are not copied). */
    public SafetensorsWriter add(RawTensor tensor) {
        return add(tensor.name(), tensor.dtype(), tensor.shape(), tensor.data());
    }

    /**
     * Adds a tensor from its little-endian bytes: the buffer's remaining bytes, which must not change before
     * {@link #write(Path)}.
     *
     * @throws IllegalArgumentException when the byte count does not match dtype and shape, or the name is
     *     taken or reserved
     */
    public SafetensorsWriter add(String name, TensorDType dtype, long[] shape, ByteBuffer data) {
        TensorInfo info = new TensorInfo(name, dtype, shape);
        if (data.remaining() != info.byteSize()) {
            throw new IllegalArgumentException("tensor '" + name + "': " + data.remaining() + " bytes for dtype "
                    + dtype + " and shape " + Arrays.toString(shape) + ", expected " + info.byteSize());
        }
        ByteBuffer view = data.duplicate();
        return enqueue(new Pending(info, view::duplicate, false));
    }

    /**
     * Adds a tensor of a source, read when the file is written, stored in {@code dtype}: its own, F16 for an F32 or
     * BF16 one, or BF16 for an F32 or F16 one (rounded to nearest even, as PyTorch's {@code .half()} and
     * {@code .bfloat16()}). A tensor read as it is stored streams from
     * the source's file: as {@link TensorSource#read} does, its pages leave resident memory once written, so a file
     * larger than memory is written with one tensor's pages resident at a time.
     *
     * @throws IllegalArgumentException when the name is taken, or the tensor cannot be stored in {@code dtype}
     */
    public SafetensorsWriter add(TensorSource source, String name, TensorDType dtype) {
        TensorInfo stored = source.info(name);
        TensorInfo info = new TensorInfo(name, dtype, stored.shape());
        if (dtype == stored.dtype()) {
            return enqueue(new Pending(info, () -> source.tensor(name).data(), true));
        }
        if (!HalfFloats.narrows(stored.dtype(), dtype)) {
            throw new IllegalArgumentException("tensor '" + name + "' of " + source.path() + " is "
                    + stored.dtype() + " and cannot be stored as " + dtype + "; expected its own dtype, f16 for "
                    + "an f32 or bf16 tensor, or bf16 for an f32 or f16 tensor");
        }
        return enqueue(new Pending(info, () -> {
            RawTensor tensor = source.tensor(name);
            ByteBuffer narrowed = HalfFloats.narrowed(tensor, dtype);
            MappedPages.drop(tensor.data());
            return narrowed;
        }, false));
    }

    /**
     * Adds a tensor whose little-endian bytes are produced when the file is written: {@code data} is called
     * once and must return exactly {@code numel * dtype.byteSize()} remaining bytes.
     *
     * @throws IllegalArgumentException when the name is taken or reserved
     */
    public SafetensorsWriter addLazy(String name, TensorDType dtype, long[] shape, Supplier<ByteBuffer> data) {
        return enqueue(new Pending(new TensorInfo(name, dtype, shape), Objects.requireNonNull(data, "data"), false));
    }

    /**
     * Lets up to {@code tensors} lazy tensors be produced ahead of the one being written, concurrently on threads of
     * the write's own, one fewer than the cores (at least one), as the writing thread keeps a core busy copying: for
     * suppliers that are independent of each other and of the order they run in (random weights), whose production,
     * not the disk, bounds the write. At most {@code tensors + 1} tensors' bytes are held at a time. 0 (the default)
     * produces each one as it is written.
     */
    public SafetensorsWriter producedAhead(int tensors) {
        if (tensors < 0) {
            throw new IllegalArgumentException("tensors produced ahead must be 0 or more, got " + tensors);
        }
        producedAhead = tensors;
        return this;
    }

    /**
     * Writes the file, replacing any existing one. On failure the partial file is deleted.
     *
     * @throws IOException when writing fails
     * @throws IllegalStateException when a lazy tensor supplies the wrong number of bytes
     */
    public void write(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeTo(channel);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(file);
            throw e;
        }
    }

    /**
     * Writes a new file atomically and durably ({@link AtomicFiles#createNew}): it appears whole or not at all, and
     * an existing file of that name is never replaced.
     *
     * @throws java.nio.file.FileAlreadyExistsException naming the file when it exists
     * @throws IOException when writing fails
     * @throws IllegalStateException when a lazy tensor supplies the wrong number of bytes
     */
    public void writeNew(Path file) throws IOException {
        AtomicFiles.createNew(file, this::writeTo);
    }

    private void writeTo(FileChannel channel) throws IOException {
        List<Pending> ordered = new ArrayList<>(tensors);
        ordered.sort(Comparator.comparingInt((Pending p) -> -rank(p.info().dtype()))
                .thenComparing((a, b) -> compareUtf8(a.info().name(), b.info().name())));
        byte[] header = header(ordered);
        ChannelWrites.writeFully(channel, ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(header.length).flip());
        ChannelWrites.writeFully(channel, ByteBuffer.wrap(header));
        if (producedAhead == 0) {
            for (Pending pending : ordered) {
                writeData(channel, pending, pending.data().get());
            }
            return;
        }
        int threads = Math.max(1, Math.min(producedAhead, Runtime.getRuntime().availableProcessors() - 1));
        ExecutorService producers = Executors.newFixedThreadPool(threads, PRODUCER_THREADS);
        try {
            Deque<CompletableFuture<ByteBuffer>> ahead = new ArrayDeque<>();
            int started = 0;
            for (Pending pending : ordered) {
                for (; started < ordered.size() && ahead.size() <= producedAhead; started++) {
                    ahead.add(CompletableFuture.supplyAsync(ordered.get(started).data(), producers));
                }
                writeData(channel, pending, produced(ahead.remove()));
            }
        } finally {
            producers.shutdownNow();
        }
    }

    private static void writeData(FileChannel channel, Pending pending, ByteBuffer data) throws IOException {
        long expected = pending.info().byteSize();
        if (data.remaining() != expected) {
            throw new IllegalStateException("tensor '" + pending.info().name() + "': supplied "
                    + data.remaining() + " bytes, expected " + expected + " for " + pending.info());
        }
        ChannelWrites.writeFully(channel, data);
        if (pending.mapped()) {
            MappedPages.drop(data);
        }
    }

    /** The bytes a supplier produced ahead, or what it threw. */
    private static ByteBuffer produced(CompletableFuture<ByteBuffer> future) {
        try {
            return future.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error error) {
                throw error;
            }
            throw e;
        }
    }

    /** Writes a file in one call. */
    public static void write(Path file, Map<String, String> metadata, Collection<RawTensor> tensors)
            throws IOException {
        SafetensorsWriter writer = new SafetensorsWriter().metadata(metadata);
        tensors.forEach(writer::add);
        writer.write(file);
    }

    private SafetensorsWriter enqueue(Pending pending) {
        TensorInfo info = pending.info();
        if (info.name().equals("__metadata__")) {
            throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
        }
        if (!names.add(info.name())) {
            throw new IllegalArgumentException("tensor '" + info.name() + "' added twice");
        }
        tensors.add(pending);
        return this;
    }

    /** The header JSON, laid out as serde_json writes it, padded with spaces to a multiple of 8 bytes. */
    private byte[] header(List<Pending> ordered) {
        StringBuilder json = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            json.append("\"__metadata__\":{");
            String separator = "";
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                json.append(separator);
                appendString(json, e.getKey());
                json.append(':');
                appendString(json, e.getValue());
                separator = ",";
            }
            json.append('}');
        }
        long offset = 0;
        for (Pending pending : ordered) {
            TensorInfo info = pending.info();
            if (json.length() > 1) {
                json.append(',');
            }
            appendString(json, info.name());
            json.append(":{\"dtype\":\"").append(info.dtype().safetensorsName()).append("\",\"shape\":[");
            long[] shape = info.shape();
            for (int i = 0; i < shape.length; i++) {
                json.append(i == 0 ? "" : ",").append(shape[i]);
            }
            long end = offset + info.byteSize();
            json.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        json.append('}');
        byte[] bytes = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (bytes.length + 7) & ~7;
        byte[] header = Arrays.copyOf(bytes, padded);
        Arrays.fill(header, bytes.length, padded, (byte) ' ');
        return header;
    }

    /** Appends a JSON string escaped as serde_json does: short escapes, lowercase \\u00xx, UTF-8 kept as is. */
    private static void appendString(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /** Rust compares {@code String}s by their UTF-8 bytes; UTF-16 order differs above U+D7FF. */
    private static int compareUtf8(String a, String b) {
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    /** Position in the Rust library's {@code Dtype} enum, by which it orders tensors (highest first). */
    private static int rank(TensorDType dtype) {
        return switch (dtype) {
            case BOOL -> 0;
            case U8 -> 1;
            case I8 -> 2;
            case I16 -> 3;
            case F16 -> 4;
            case BF16 -> 5;
            case I32 -> 6;
            case F32 -> 7;
            case F64 -> 8;
            case I64 -> 9;
        };
    }
}

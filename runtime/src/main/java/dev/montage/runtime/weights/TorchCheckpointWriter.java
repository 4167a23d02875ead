package dev.montage.runtime.weights;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Writes a nested map of tensors as a {@code torch.save} checkpoint (the zip format of PyTorch 1.6 and
 * later), laid out as torch itself writes it, so that {@code torch.load} and
 * {@link TorchCheckpointReader} can both read it; used to produce random {@code ms_adapter.bin} models, to store
 * checkpoints in another dtype, and for test fixtures.
 *
 * <p>The archive holds {@code <stem>/data.pkl} (a protocol 2 pickle), {@code <stem>/byteorder}
 * ({@code little}), one STORED, 64-byte aligned entry {@code <stem>/data/<key>} per storage, and
 * {@code <stem>/version} ({@code 3}); {@code <stem>} is the file name up to its first dot, as torch
 * names it. The root map is pickled as a {@code dict}, nested maps as {@code collections.OrderedDict},
 * as a {@code state_dict()} is.
 *
 * <p>Values may be nested {@code Map<String, ?>}s, {@link RawTensor}s (each with its own storage unless
 * the same instance appears twice), {@link View}s of a shared {@link Storage}, and {@link Parameter}s. A storage's
 * elements may be produced as it is written ({@link View#narrowed}), so a large checkpoint is written with one
 * storage in memory at a time.
 */
public final class TorchCheckpointWriter {
    private static final String FORMAT_VERSION = "3\n";

    private TorchCheckpointWriter() {
    }

    /**
     * Elements of one type that several {@link View}s can share; identity, not content, decides
     * sharing, as with torch storages.
     */
    public static final class Storage {
        private final TensorDType dtype;
        private final long numel;
        private final Supplier<ByteBuffer> data;

        /**
         * @param data little-endian elements, from position to limit
         * @throws IllegalArgumentException when the byte count is not a whole number of elements
         */
        public Storage(TensorDType dtype, ByteBuffer data) {
            this(dtype, wholeElements(dtype, data), data.slice().asReadOnlyBuffer()::duplicate);
        }

        /**
         * A storage whose little-endian elements are produced when the checkpoint is written: {@code data} is called
         * once then and must return exactly {@code numel} elements. A checkpoint of such storages is written with one
         * of them in memory at a time.
         */
        public Storage(TensorDType dtype, long numel, Supplier<ByteBuffer> data) {
            this.dtype = Objects.requireNonNull(dtype, "dtype");
            if (numel < 0) {
                throw new IllegalArgumentException("a storage holds 0 or more elements, got " + numel);
            }
            this.numel = numel;
            this.data = Objects.requireNonNull(data, "data");
        }

        private static long wholeElements(TensorDType dtype, ByteBuffer data) {
            if (data.remaining() % dtype.byteSize() != 0) {
                throw new IllegalArgumentException(data.remaining() + " bytes are not a whole number of " + dtype
                        + " elements");
            }
            return data.remaining() / dtype.byteSize();
        }

        public TensorDType dtype() {
            return dtype;
        }

        /** Number of elements. */
        public long numel() {
            return numel;
        }

        /** The elements, produced now; {@code entry} names the storage in the message when their count is wrong. */
        private ByteBuffer produce(String entry) {
            ByteBuffer bytes = data.get();
            long expected = numel * dtype.byteSize();
            if (bytes.remaining() != expected) {
                throw new IllegalStateException("storage " + entry + ": supplied " + bytes.remaining() + " bytes, "
                        + "expected " + expected + " for " + numel + " " + dtype + " elements");
            }
            return bytes;
        }
    }

    /**
     * A tensor viewing {@code storage} from element {@code offset} with the given shape and strides
     * (in elements), as torch's {@code _rebuild_tensor_v2} receives it.
     */
    public record View(Storage storage, long offset, long[] shape, long[] stride) {
        /**
         * @throws IllegalArgumentException when the view is malformed or reaches past the storage
         * @throws ArithmeticException when its extent overflows a long
         */
        public View {
            Objects.requireNonNull(storage, "storage");
            shape = shape.clone();
            stride = stride.clone();
            if (shape.length != stride.length || offset < 0 || Arrays.stream(stride).anyMatch(s -> s < 0)) {
                throw new IllegalArgumentException("malformed view: offset " + offset + ", shape "
                        + Arrays.toString(shape) + ", stride " + Arrays.toString(stride));
            }
            long last = offset; // the highest element index addressed
            for (int d = 0; d < shape.length; d++) {
                last = Math.addExact(last, Math.multiplyExact(Math.max(shape[d] - 1, 0), stride[d]));
            }
            if (RawTensor.numel(shape) > 0 && last >= storage.numel()) {
                throw new IllegalArgumentException("view of shape " + Arrays.toString(shape) + ", stride "
                        + Arrays.toString(stride) + " at offset " + offset + " reaches past its storage of "
                        + storage.numel() + " elements");
            }
        }

        /** All of {@code storage} as a tensor of {@code shape}, laid out row-major as a contiguous torch tensor is. */
        public static View contiguous(Storage storage, long[] shape) {
            long[] stride = new long[shape.length];
            long step = 1;
            for (int d = shape.length - 1; d >= 0; d--) {
                stride[d] = step;
                step = Math.multiplyExact(step, shape[d]);
            }
            return new View(storage, 0, shape, stride);
        }

        /**
         * {@code tensor} stored in {@code dtype} (F16 for an F32 or BF16 one, BF16 for an F32 or F16 one, rounded to
         * nearest even), narrowed when the checkpoint is written: one narrowed tensor is held at a time, and where
         * {@code tensor} maps a file its pages leave resident memory once read, as with
         * {@link SafetensorsWriter#add(TensorSource, String, TensorDType)}.
         *
         * @throws IllegalArgumentException when the tensor cannot be stored in {@code dtype}
         */
        public static View narrowed(RawTensor tensor, TensorDType dtype) {
            if (!HalfFloats.narrows(tensor.dtype(), dtype)) {
                throw new IllegalArgumentException("tensor '" + tensor.name() + "' is " + tensor.dtype()
                        + " and cannot be stored as " + dtype + "; expected f16 for an f32 or bf16 tensor, or bf16 "
                        + "for an f32 or f16 one");
            }
            return contiguous(new Storage(dtype, tensor.numel(), () -> {
                ByteBuffer narrowed = HalfFloats.narrowed(tensor, dtype);
                MappedPages.drop(tensor.data());
                return narrowed;
            }), tensor.shape());
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public long[] stride() {
            return stride.clone();
        }
    }

    /**
     * Marks a tensor ({@link RawTensor} or {@link View}) to be pickled as a {@code torch.nn.Parameter},
     * through {@code torch._utils._rebuild_parameter}.
     */
    public record Parameter(Object tensor, boolean requiresGrad) {
        /** @throws IllegalArgumentException when {@code tensor} is neither a RawTensor nor a View */
        public Parameter {
            if (!(tensor instanceof RawTensor || tensor instanceof View)) {
                throw new IllegalArgumentException("a Parameter wraps a RawTensor or a View, not " + tensor);
            }
        }

        /** A parameter with {@code requires_grad=True}, as {@code nn.Parameter(t)} is. */
        public Parameter(Object tensor) {
            this(tensor, true);
        }
    }

    /**
     * Writes {@code root} to {@code file}, replacing it atomically (through a temporary file in the same
     * folder), so that mappings of a previous version, e.g. tensors being copied from it, stay valid.
     *
     * @throws IllegalArgumentException when a value is of an unsupported type; the message names its path
     */
    public static void write(Path file, Map<String, ?> root) throws IOException {
        write(file, root, false);
    }

    /** {@link #write(Path, Map)}, optionally with zip64 records even in a small archive (for tests). */
    static void write(Path file, Map<String, ?> root, boolean forceZip64) throws IOException {
        Pickler pickler = new Pickler();
        byte[] pickle = pickler.pickle(root);
        String folder = archiveName(file) + "/";
        Path absolute = file.toAbsolutePath();
        // not Files.createTempFile: its owner-only permissions would stick to the checkpoint
        Path temporary = absolute.resolveSibling(absolute.getFileName() + ".tmp-"
                + Long.toHexString(System.nanoTime()));
        try {
            try (StoredZipWriter zip = new StoredZipWriter(FileChannel.open(temporary, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE), forceZip64)) {
                zip.add(folder + "data.pkl", ByteBuffer.wrap(pickle));
                zip.add(folder + "byteorder", ascii("little"));
                for (Map.Entry<String, Storage> storage : pickler.storagesByKey().entrySet()) {
                    String entry = folder + "data/" + storage.getKey();
                    zip.add(entry, storage.getValue().produce(entry));
                }
                zip.add(folder + "version", ascii(FORMAT_VERSION));
            }
            Files.move(temporary, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temporary);
        }
    }

    /** torch names the folder after the file, without extension; "archive" is its fallback. */
    private static String archiveName(Path file) {
        String name = file.getFileName().toString();
        int dot = name.indexOf('.');
        String stem = dot < 0 ? name : name.substring(0, dot);
        return stem.isEmpty() ? "archive" : stem;
    }

    private static ByteBuffer ascii(String text) {
        return ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * Emits the pickle opcodes Python's pickler emits for a state dict under protocol 2, memoizing only
     * the globals (the memo is an optimisation; torch's own output memoizes everything).
     */
    private static final class Pickler {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final Map<TorchGlobal, Integer> memo = new EnumMap<>(TorchGlobal.class);
        private final Map<RawTensor, Storage> tensorStorages = new IdentityHashMap<>();
        // storage keys are handed out in order of first use, like torch's persistent_id
        private final Map<Storage, String> keys = new IdentityHashMap<>();
        private final List<Storage> storages = new ArrayList<>();

        byte[] pickle(Map<String, ?> root) {
            op(0x80).write(2); // PROTO 2
            op('}'); // EMPTY_DICT: the root is a plain dict
            items(root, "");
            op('.'); // STOP
            return out.toByteArray();
        }

        /** The storages by key in the order torch writes their entries (keys sorted as strings). */
        Map<String, Storage> storagesByKey() {
            Map<String, Storage> sorted = new TreeMap<>();
            for (int i = 0; i < storages.size(); i++) {
                sorted.put(Integer.toString(i), storages.get(i));
            }
            return sorted;
        }

        private void items(Map<?, ?> map, String path) {
            if (map.isEmpty()) {
                return;
            }
            op('('); // MARK
            for (Map.Entry<?, ?> item : map.entrySet()) {
                if (!(item.getKey() instanceof String key)) {
                    throw new IllegalArgumentException("checkpoint key " + item.getKey() + " under '" + path
                            + "' is not a string");
                }
                string(key);
                value(item.getValue(), path.isEmpty() ? key : path + "." + key);
            }
            op('u'); // SETITEMS
        }

        private void value(Object value, String path) {
            if (value instanceof Map<?, ?> map) {
                orderedDict();
                items(map, path);
            } else if (value instanceof Parameter parameter) {
                global(TorchGlobal.REBUILD_PARAMETER);
                tensor(parameter.tensor());
                op(parameter.requiresGrad() ? 0x88 : 0x89); // NEWTRUE / NEWFALSE
                orderedDict(); // backward hooks
                op(0x87).op('R'); // TUPLE3, REDUCE
            } else if (value instanceof RawTensor || value instanceof View) {
                tensor(value);
            } else {
                throw new IllegalArgumentException("cannot write '" + path + "': unsupported value " + value
                        + "; expected a Map, RawTensor, View or Parameter");
            }
        }

        /** {@code _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}. */
        private void tensor(Object tensor) {
            View view = tensor instanceof RawTensor raw ? contiguousView(raw) : (View) tensor;
            global(TorchGlobal.REBUILD_TENSOR_V2);
            op('('); // MARK
            persistentId(view.storage());
            integer(view.offset());
            tuple(view.shape());
            tuple(view.stride());
            op(0x89); // NEWFALSE: requires_grad
            orderedDict(); // backward hooks
            op('t').op('R'); // TUPLE, REDUCE
        }

        /** A RawTensor owns its storage; the same instance written twice shares it. */
        private View contiguousView(RawTensor raw) {
            return View.contiguous(tensorStorages.computeIfAbsent(raw, r -> new Storage(r.dtype(), r.data())),
                    raw.shape());
        }

        /** BINPERSID of {@code ('storage', torch.<Type>Storage, key, 'cpu', numel)}. */
        private void persistentId(Storage storage) {
            String key = keys.computeIfAbsent(storage, k -> {
                storages.add(storage);
                return Integer.toString(storages.size() - 1);
            });
            op('('); // MARK
            string("storage");
            global(TorchGlobal.storageFor(storage.dtype()));
            string(key);
            string("cpu");
            integer(storage.numel());
            op('t').op('Q'); // TUPLE, BINPERSID
        }

        /** {@code collections.OrderedDict()}. */
        private void orderedDict() {
            global(TorchGlobal.ORDERED_DICT);
            op(')').op('R'); // EMPTY_TUPLE, REDUCE
        }

        private void global(TorchGlobal global) {
            Integer index = memo.get(global);
            if (index != null) {
                op('h').write(index); // BINGET
                return;
            }
            op('c');
            out.writeBytes((global.module() + "\n" + global.globalName() + "\n").getBytes(StandardCharsets.US_ASCII));
            index = memo.size(); // the allow-list is far shorter than 256, so one-byte memo indices do
            memo.put(global, index);
            op('q').write(index); // BINPUT
        }

        private void tuple(long[] values) {
            if (values.length == 0) {
                op(')'); // EMPTY_TUPLE
                return;
            }
            if (values.length > 3) {
                op('('); // MARK
            }
            for (long v : values) {
                integer(v);
            }
            op(switch (values.length) {
                case 1 -> 0x85; // TUPLE1
                case 2 -> 0x86; // TUPLE2
                case 3 -> 0x87; // TUPLE3
                default -> 't'; // TUPLE
            });
        }

        /** The shortest encoding, as Python picks it. */
        private void integer(long value) {
            if (value >= 0 && value < 0x100) {
                op('K').write((int) value); // BININT1
            } else if (value >= 0 && value < 0x10000) {
                op('M').write((int) value).write((int) (value >>> 8)); // BININT2
            } else if (value == (int) value) {
                op('J').writeInt32((int) value); // BININT
            } else {
                byte[] bigEndian = BigInteger.valueOf(value).toByteArray(); // minimal two's complement
                op(0x8A).write(bigEndian.length); // LONG1, little-endian
                for (int i = bigEndian.length - 1; i >= 0; i--) {
                    write(bigEndian[i]);
                }
            }
        }

        private void string(String s) {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            op('X').writeInt32(utf8.length); // BINUNICODE
            out.writeBytes(utf8);
        }

        private Pickler op(int opcode) {
            return write(opcode);
        }

        private Pickler write(int b) {
            out.write(b);
            return this;
        }

        private void writeInt32(int value) {
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
        }
    }
}

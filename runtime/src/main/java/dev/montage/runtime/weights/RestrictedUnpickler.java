package dev.montage.runtime.weights;

import java.math.BigInteger;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Interprets the pickle that {@code torch.save} writes ({@code data.pkl}, protocol 2; the few protocol 4
 * opcodes are accepted too) without ever executing anything.
 *
 * <p>Python's unpickler calls whatever global the stream names; this one only knows the globals of
 * {@link TorchGlobal} and refuses any other the moment the stream names it, before any call could be
 * made. The "calls" it does perform are Java re-implementations: {@code OrderedDict()} builds a
 * {@link LinkedHashMap}, {@code _rebuild_tensor_v2} and {@code _rebuild_parameter} build a
 * {@link RawTensor} over the storage bytes.
 *
 * <p>Python values map to: dict and OrderedDict to {@code LinkedHashMap<String, Object>} (int, float
 * and bool keys are turned into their string form), list to a mutable {@link List}, tuple to an
 * unmodifiable {@link List}, int to {@link Long} (or {@link BigInteger} past 64 bits), float to
 * {@link Double}, bool to {@link Boolean}, None to {@code null}, str to {@link String}. Tensors come out
 * unnamed ({@code ""}); the caller names them after their place in the tree.
 */
final class RestrictedUnpickler {

    /** Supplies the bytes of the storage a persistent id names. */
    @FunctionalInterface
    interface StorageResolver {
        /**
         * @return exactly {@code numel * dtype.byteSize()} little-endian bytes
         * @throws WeightFormatException when the storage is missing or too short
         */
        ByteBuffer resolve(String key, TensorDType dtype, long numel);
    }

    /** A storage as the persistent id describes it; its bytes are fetched when a tensor views it. */
    private record StorageRef(String key, TensorDType dtype, long numel) {
    }

    private static final int HIGHEST_PROTOCOL = 5;

    private final String source;
    private final ByteBuffer in;
    private final StorageResolver storages;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private final Set<String> copiedStorages = new HashSet<>();
    private long copyableBytes;
    private long copiedBytes;

    /**
     * @param source the file (and entry) the pickle comes from, for error messages
     * @param pickle the pickle bytes, from position to limit
     */
    RestrictedUnpickler(String source, ByteBuffer pickle, StorageResolver storages) {
        this.source = source;
        this.in = pickle.slice().order(ByteOrder.LITTLE_ENDIAN);
        this.storages = storages;
    }

    /**
     * Runs the pickle up to its STOP opcode.
     *
     * @return the unpickled object
     * @throws WeightFormatException on a refused global, an unsupported opcode or a malformed stream
     */
    Object load() {
        try {
            for (long operations = 1; ; operations++) {
                if (operations > LoaderLimits.PICKLE_OPERATIONS) {
                    throw error("pickle runs more than " + LoaderLimits.PICKLE_OPERATIONS
                            + " operations (raise montage.pickle.maxOperations for a larger checkpoint)");
                }
                int position = in.position();
                int opcode = in.get() & 0xFF;
                if (opcode == '.') {
                    return pop();
                }
                execute(opcode, position);
            }
        } catch (BufferUnderflowException e) {
            throw error("pickle is truncated: it ends at byte " + in.limit() + " before its STOP opcode", e);
        }
    }

    private void execute(int opcode, int position) {
        switch (opcode) {
            case 0x80 -> { // PROTO
                int protocol = in.get() & 0xFF;
                if (protocol > HIGHEST_PROTOCOL) {
                    throw error("unsupported pickle protocol " + protocol);
                }
            }
            case 0x95 -> in.getLong(); // FRAME: a length hint, frames need no special handling here
            case '(' -> marks.add(stack.size()); // MARK
            case '0' -> pop(); // POP
            case '1' -> popMark(); // POP_MARK
            case '2' -> push(peek()); // DUP
            case 'N' -> push(null); // NONE
            case 0x88 -> push(Boolean.TRUE); // NEWTRUE
            case 0x89 -> push(Boolean.FALSE); // NEWFALSE
            case 'J' -> push((long) in.getInt()); // BININT
            case 'K' -> push((long) (in.get() & 0xFF)); // BININT1
            case 'M' -> push((long) (in.getShort() & 0xFFFF)); // BININT2
            case 0x8A -> push(readLong1()); // LONG1
            case 'G' -> push(Double.longBitsToDouble(Long.reverseBytes(in.getLong()))); // BINFLOAT, big-endian
            case 'X' -> push(readUtf8(Integer.toUnsignedLong(in.getInt()))); // BINUNICODE
            case 0x8C -> push(readUtf8(in.get() & 0xFF)); // SHORT_BINUNICODE
            case 0x8D -> push(readUtf8(in.getLong())); // BINUNICODE8
            case ']' -> push(new ArrayList<>()); // EMPTY_LIST
            case 'a' -> appendAll(Collections.singletonList(pop())); // APPEND
            case 'e' -> appendAll(popMark()); // APPENDS
            case ')' -> push(List.of()); // EMPTY_TUPLE
            case 't' -> push(tuple(popMark())); // TUPLE
            case 0x85 -> push(tuple(popN(1))); // TUPLE1
            case 0x86 -> push(tuple(popN(2))); // TUPLE2
            case 0x87 -> push(tuple(popN(3))); // TUPLE3
            case '}' -> push(new LinkedHashMap<String, Object>()); // EMPTY_DICT
            case 's' -> setItems(popN(2)); // SETITEM
            case 'u' -> setItems(popMark()); // SETITEMS
            case 'h' -> push(memoGet(in.get() & 0xFF)); // BINGET
            case 'j' -> push(memoGet(Integer.toUnsignedLong(in.getInt()))); // LONG_BINGET
            case 'q' -> memoize(in.get() & 0xFF); // BINPUT
            case 'r' -> memoize(Integer.toUnsignedLong(in.getInt())); // LONG_BINPUT
            case 0x94 -> memoize(memo.size()); // MEMOIZE
            case 'c' -> push(global(readLine(), readLine())); // GLOBAL
            case 0x93 -> { // STACK_GLOBAL
                String name = popString();
                push(global(popString(), name));
            }
            case 'R' -> { // REDUCE
                List<Object> args = popTuple();
                push(call(pop(), args));
            }
            case 0x81 -> { // NEWOBJ: cls.__new__(cls, *args); only OrderedDict() can be built this way
                List<Object> args = popTuple();
                push(newObject(pop(), args));
            }
            case 'b' -> { // BUILD
                pop(); // the state; see build()
                build(peek());
            }
            case 'Q' -> push(persistentLoad(pop())); // BINPERSID
            default -> throw error(String.format("unsupported pickle opcode 0x%02x at byte %d", opcode, position));
        }
    }

    private TorchGlobal global(String module, String name) {
        return TorchGlobal.lookup(module, name).orElseThrow(() -> error("refused pickle global '" + module + "."
                + name + "': only tensors, storages and collections.OrderedDict may appear in a weight checkpoint"));
    }

    private Object call(Object callable, List<Object> args) {
        if (!(callable instanceof TorchGlobal g)) {
            throw error("REDUCE on a non-callable " + describe(callable));
        }
        return switch (g) {
            case ORDERED_DICT -> newOrderedDict(args);
            case REBUILD_TENSOR_V2 -> rebuildTensor(args);
            case REBUILD_PARAMETER -> rebuildParameter(args);
            default -> throw error("calling " + g + " is not supported, storages only appear in persistent ids");
        };
    }

    private Object newObject(Object cls, List<Object> args) {
        if (cls != TorchGlobal.ORDERED_DICT) {
            throw error("NEWOBJ of " + describe(cls) + " is not supported");
        }
        return newOrderedDict(args);
    }

    private Map<String, Object> newOrderedDict(List<Object> args) {
        // torch pickles OrderedDicts as OrderedDict() followed by SETITEMS, never with constructor items
        if (!args.isEmpty()) {
            throw error("collections.OrderedDict with constructor arguments is not supported");
        }
        return new LinkedHashMap<>();
    }

    /** {@code _rebuild_parameter(data, requires_grad, backward_hooks)}: a Parameter is its data here. */
    private Object rebuildParameter(List<Object> args) {
        if (args.size() != 3 || !(args.get(0) instanceof RawTensor)) {
            throw error("torch._utils._rebuild_parameter expects (tensor, requires_grad, backward_hooks), got "
                    + args.size() + " arguments");
        }
        return args.get(0);
    }

    /**
     * {@code _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[,
     * metadata])}. requires_grad, the (always empty) hooks and the optional metadata carry nothing a
     * weight reader needs.
     */
    private RawTensor rebuildTensor(List<Object> args) {
        if ((args.size() != 6 && args.size() != 7) || !(args.get(0) instanceof StorageRef storage)) {
            throw error("torch._utils._rebuild_tensor_v2 expects (storage, offset, size, stride, requires_grad, "
                    + "hooks[, metadata]), got " + args.size() + " arguments");
        }
        long offset = toLong(args.get(1), "storage offset");
        long[] shape = toLongs(args.get(2), "size");
        long[] stride = toLongs(args.get(3), "stride");
        long numel = checkedNumel(storage, offset, shape, stride);
        int size = storage.dtype().byteSize();
        ByteBuffer data;
        if (numel == 0) {
            data = ByteBuffer.allocate(0);
        } else {
            ByteBuffer bytes = storages.resolve(storage.key(), storage.dtype(), storage.numel());
            if (isContiguous(shape, stride)) {
                data = bytes.slice(Math.toIntExact(offset * size), Math.toIntExact(numel * size));
            } else {
                countCopy(storage, shape, numel);
                data = gather(bytes, size, offset, shape, stride, numel);
            }
        }
        return new RawTensor("", storage.dtype(), shape, data);
    }

    /**
     * Checks that the view stays inside its storage (a hostile file could otherwise address bytes of
     * other tensors or overflow) and that the tensor fits a Java buffer.
     *
     * @return the element count
     */
    private long checkedNumel(StorageRef storage, long offset, long[] shape, long[] stride) {
        String view = "tensor of size " + Arrays.toString(shape) + ", stride " + Arrays.toString(stride)
                + " at offset " + offset + " in storage '" + storage.key() + "' (" + storage.numel() + " elements)";
        if (stride.length != shape.length || offset < 0) {
            throw error("malformed " + view);
        }
        try {
            long numel = 1;
            long last = offset; // the highest element index addressed
            for (int d = 0; d < shape.length; d++) {
                if (shape[d] < 0 || stride[d] < 0) {
                    throw error("malformed " + view);
                }
                numel = Math.multiplyExact(numel, shape[d]);
                last = Math.addExact(last, Math.multiplyExact(Math.max(shape[d] - 1, 0), stride[d]));
            }
            if (numel == 0) {
                return 0;
            }
            if (last >= storage.numel()) {
                throw error(view + " reaches past the end of its storage");
            }
            if (Math.multiplyExact(last + 1, storage.dtype().byteSize()) > Integer.MAX_VALUE) {
                throw error(view + " is larger than 2 GiB, which a Java buffer cannot hold");
            }
            return numel;
        } catch (ArithmeticException e) {
            throw error("malformed " + view, e);
        }
    }

    /**
     * Strided views are copied, and stride-0 or repeated views of one storage could make those copies far larger
     * than the file: all copies together may hold as many bytes as the storages they view.
     */
    private void countCopy(StorageRef storage, long[] shape, long numel) {
        long storageBytes = storage.numel() * storage.dtype().byteSize();
        if (copiedStorages.add(storage.key())) {
            copyableBytes += storageBytes;
        }
        copiedBytes += numel * storage.dtype().byteSize();
        if (copiedBytes > copyableBytes) {
            throw error("non-contiguous tensor of size " + Arrays.toString(shape) + " in storage '"
                    + storage.key() + "' brings the copies of strided views to " + copiedBytes + " bytes, more than the "
                    + copyableBytes + " bytes of the storages they view");
        }
    }

    /** Row-major contiguity; strides of dimensions of size 1 do not matter (torch leaves them arbitrary). */
    private static boolean isContiguous(long[] shape, long[] stride) {
        long expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1 && stride[d] != expected) {
                return false;
            }
            expected *= shape[d];
        }
        return true;
    }

    /** Copies a strided view into a fresh contiguous buffer (RawTensor is always row-major). */
    private static ByteBuffer gather(ByteBuffer storage, int elementSize, long offset, long[] shape, long[] stride,
            long numel) {
        ByteBuffer out = ByteBuffer.allocate((int) (numel * elementSize));
        long[] index = new long[shape.length];
        for (int at = 0; at < out.capacity(); at += elementSize) {
            long element = offset;
            for (int d = 0; d < shape.length; d++) {
                element += index[d] * stride[d];
            }
            out.put(at, storage, (int) (element * elementSize), elementSize);
            for (int d = shape.length - 1; d >= 0 && ++index[d] == shape[d]; d--) {
                index[d] = 0;
            }
        }
        return out;
    }

    /** BINPERSID: torch's {@code ('storage', <StorageType>, key, location, numel)}. */
    private StorageRef persistentLoad(Object pid) {
        if (!(pid instanceof List<?> t) || t.size() < 5 || !"storage".equals(t.get(0))
                || !(t.get(1) instanceof TorchGlobal type) || type.storageDType() == null
                || !(t.get(2) instanceof String key)) {
            throw error("unsupported persistent id " + describe(pid)
                    + ", expected ('storage', <torch storage type>, key, location, numel)");
        }
        return new StorageRef(key, type.storageDType(), toLong(t.get(4), "storage numel"));
    }

    /**
     * BUILD sets instance attributes. torch only builds state_dict OrderedDicts this way, with their
     * {@code _metadata} (module versions); that is no dict item, so it is dropped.
     */
    private void build(Object target) {
        if (!(target instanceof Map)) {
            throw error("BUILD of " + describe(target) + " is not supported");
        }
    }

    private void setItems(List<Object> keysAndValues) {
        Map<String, Object> dict = dictOnStack();
        if (keysAndValues.size() % 2 != 0) {
            throw error("SETITEMS with an odd number of keys and values");
        }
        for (int i = 0; i < keysAndValues.size(); i += 2) {
            dict.put(dictKey(keysAndValues.get(i)), keysAndValues.get(i + 1));
        }
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> dictOnStack() {
        if (!(peek() instanceof Map<?, ?> dict)) {
            throw error("SETITEM(S) on " + describe(peek()));
        }
        return (Map<String, Object>) dict;
    }

    private String dictKey(Object key) {
        if (key instanceof String || key instanceof Long || key instanceof BigInteger || key instanceof Double
                || key instanceof Boolean) {
            return String.valueOf(key);
        }
        throw error("unsupported dict key " + describe(key));
    }

    @SuppressWarnings("unchecked")
    private void appendAll(List<Object> items) {
        if (!(peek() instanceof ArrayList<?> list)) {
            throw error("APPEND(S) on " + describe(peek()));
        }
        ((List<Object>) list).addAll(items);
    }

    private void memoize(long index) {
        if (memo.size() >= LoaderLimits.PICKLE_MEMO && !memo.containsKey(index)) {
            throw error("pickle memoizes more than " + LoaderLimits.PICKLE_MEMO
                    + " objects (raise montage.pickle.maxMemo for a larger checkpoint)");
        }
        memo.put(index, peek());
    }

    private Object memoGet(long index) {
        if (!memo.containsKey(index)) {
            throw error("memo key " + index + " read before it was written");
        }
        return memo.get(index);
    }

    private Object readLong1() {
        byte[] le = new byte[in.get() & 0xFF];
        in.get(le);
        if (le.length == 0) {
            return 0L;
        }
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) {
            be[i] = le[le.length - 1 - i];
        }
        BigInteger value = new BigInteger(be); // two's complement, as LONG1 is
        return value.bitLength() < 64 ? (Object) value.longValue() : value;
    }

    private String readUtf8(long length) {
        if (length < 0 || length > in.remaining()) {
            throw error("string of " + length + " bytes runs past the end of the pickle");
        }
        byte[] bytes = new byte[(int) length];
        in.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** GLOBAL's operands: a newline-terminated module, then name. */
    private String readLine() {
        StringBuilder line = new StringBuilder();
        for (byte b = in.get(); b != '\n'; b = in.get()) {
            line.append((char) (b & 0xFF));
        }
        return line.toString();
    }

    private void push(Object value) {
        stack.add(value);
    }

    private Object peek() {
        if (stack.isEmpty()) {
            throw error("pickle stack underflow");
        }
        return stack.get(stack.size() - 1);
    }

    private Object pop() {
        Object top = peek();
        stack.remove(stack.size() - 1);
        return top;
    }

    private List<Object> popN(int n) {
        if (stack.size() - n < (marks.isEmpty() ? 0 : marks.get(marks.size() - 1))) {
            throw error("pickle stack underflow");
        }
        List<Object> top = new ArrayList<>(stack.subList(stack.size() - n, stack.size()));
        stack.subList(stack.size() - n, stack.size()).clear();
        return top;
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw error("pickle opcode needs a MARK, but there is none");
        }
        int mark = marks.remove(marks.size() - 1);
        if (mark > stack.size()) {
            throw error("pickle stack underflow: items below the last MARK were popped");
        }
        List<Object> top = new ArrayList<>(stack.subList(mark, stack.size()));
        stack.subList(mark, stack.size()).clear();
        return top;
    }

    private List<Object> popTuple() {
        if (!(pop() instanceof List<?> args)) {
            throw error("call arguments are not a tuple");
        }
        return Collections.unmodifiableList(args);
    }

    private String popString() {
        if (!(pop() instanceof String s)) {
            throw error("STACK_GLOBAL operands are not strings");
        }
        return s;
    }

    private static List<Object> tuple(List<Object> items) {
        return Collections.unmodifiableList(items);
    }

    private long toLong(Object value, String what) {
        if (!(value instanceof Long l)) {
            throw error(what + " is not an int: " + describe(value));
        }
        return l;
    }

    private long[] toLongs(Object value, String what) {
        if (!(value instanceof List<?> list)) {
            throw error(what + " is not a tuple: " + describe(value));
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = toLong(list.get(i), what);
        }
        return out;
    }

    /**
     * Names a value for a message without walking into containers: a pickle can share one container exponentially
     * often or make it contain itself.
     */
    private static String describe(Object value) {
        if (value == null) {
            return "None";
        }
        if (value instanceof List<?> list) {
            return (list instanceof ArrayList ? "a list of " : "a tuple of ") + items(list.size());
        }
        if (value instanceof Map<?, ?> map) {
            return "a dict of " + items(map.size());
        }
        String text = value instanceof String s ? "'" + s + "'" : String.valueOf(value);
        return value.getClass().getSimpleName() + " " + (text.length() > 80 ? text.substring(0, 80) + "..." : text);
    }

    private static String items(int count) {
        return count + (count == 1 ? " item" : " items");
    }

    private WeightFormatException error(String message) {
        return new WeightFormatException(source + ": " + message);
    }

    private WeightFormatException error(String message, Throwable cause) {
        return new WeightFormatException(source + ": " + message, cause);
    }
}

package dev.montage.runtime.weights;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads one {@code .safetensors} file: an 8-byte little-endian header length, a JSON header mapping each
 * tensor name to its {@code dtype}, {@code shape} and {@code data_offsets} (relative to the data section
 * that follows the header), an optional {@code __metadata__} string map, then the raw little-endian data.
 *
 * <p>The header is validated as strictly as the reference Rust implementation does, so a truncated or
 * tampered file is refused at {@link #open(Path)} rather than producing garbage weights later: the tensors
 * must tile the data section exactly (no overlap, no gap, nothing after the last one) and each tensor's byte
 * range must match its dtype and shape. Data is memory-mapped per tensor on demand, which keeps files over
 * 2 GiB readable (one {@link java.nio.MappedByteBuffer} cannot exceed 2 GiB); a single tensor over 2 GiB
 * cannot be returned as one buffer and is refused when asked for.
 *
 * <p>{@link #names()} lists tensors in data-offset order, which is the order a writer laid them out.
 */
public final class SafetensorsReader implements TensorSource {
    /** Headers beyond this size are refused as corrupt (real SDXL UNet headers are about 200 KiB). */
    private static final long MAX_HEADER_BYTES = 100L << 20;

    private static final String METADATA_KEY = "__metadata__";
    private static final Set<String> ENTRY_FIELDS = Set.of("dtype", "shape", "data_offsets");
    /** Refuses duplicate keys (a tensor listed twice) and anything after the top-level value. */
    static final ObjectMapper STRICT_JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    /** A tensor's description and its byte range [begin, end) within the data section. */
    private record Entry(TensorInfo info, long begin, long end) {
    }

    private SafetensorsReader(Path path, FileChannel channel) throws IOException {
        this.path = path;
        this.channel = channel;
        long fileSize = channel.size();
        if (fileSize < Long.BYTES) {
            throw fail("file is " + fileSize + " bytes, too short for the 8-byte header length");
        }
        long headerLength = readFully(0, Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).getLong();
        // compareUnsigned: the length is a u64, so a corrupt one may read as a negative long
        if (Long.compareUnsigned(headerLength, MAX_HEADER_BYTES) > 0) {
            throw fail("header length " + Long.toUnsignedString(headerLength) + " is absurd (limit "
                    + MAX_HEADER_BYTES + " bytes); not a safetensors file?");
        }
        if (headerLength > fileSize - Long.BYTES) {
            throw fail("header length " + headerLength + " exceeds the " + (fileSize - Long.BYTES)
                    + " bytes after the length field; file truncated?");
        }
        if (headerLength < 2) {
            throw fail("header length " + headerLength + " is too small for a JSON object");
        }
        this.dataStart = Long.BYTES + headerLength;
        JsonNode header = parseHeader(readFully(Long.BYTES, (int) headerLength));
        this.metadata = parseMetadata(header.get(METADATA_KEY));
        this.entries = parseEntries(header, fileSize - dataStart);
    }

    /**
     * Opens and validates a safetensors file.
     *
     * @throws IOException when the file cannot be read
     * @throws WeightFormatException naming the file (and tensor) when the header is malformed
     */
    public static SafetensorsReader open(Path file) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new SafetensorsReader(file, channel);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    @Override
    public Path path() {
        return path;
    }

    /** Tensor names in data-offset order. */
    @Override
    public Set<String> names() {
        return Collections.unmodifiableSet(entries.keySet());
    }

    @Override
    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        return entry(name).info();
    }

    /** The {@code __metadata__} map of the header, empty when absent. */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public RawTensor tensor(String name) {
        Entry entry = entry(name);
        long length = entry.end() - entry.begin();
        if (length > Integer.MAX_VALUE) {
            throw fail(name, "is " + length + " bytes, more than one buffer can hold (2 GiB - 1)");
        }
        if (!channel.isOpen()) {
            throw new IllegalStateException("safetensors file " + path + " is closed");
        }
        ByteBuffer data;
        try {
            // an empty tensor needs no mapping
            data = length == 0 ? ByteBuffer.allocate(0)
                    : channel.map(FileChannel.MapMode.READ_ONLY, dataStart + entry.begin(), length);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot map tensor '" + name + "' of " + path, e);
        }
        TensorInfo info = entry.info();
        return new RawTensor(name, info.dtype(), info.shape(), data);
    }

    /** Reads the bytes with {@link FileChannel#read}, so that no page of the file stays mapped. */
    @Override
    public RawTensor read(String name, ByteBuffer buffer) {
        Entry entry = entry(name);
        long length = entry.end() - entry.begin();
        if (length > buffer.remaining()) {
            throw new IllegalArgumentException("tensor '" + name + "' of " + path + " is " + length
                    + " bytes, the buffer has room for " + buffer.remaining());
        }
        if (!channel.isOpen()) {
            throw new IllegalStateException("safetensors file " + path + " is closed");
        }
        ByteBuffer into = buffer.slice(buffer.position(), (int) length);
        try {
            readFully(dataStart + entry.begin(), into);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tensor '" + name + "' of " + path, e);
        }
        TensorInfo info = entry.info();
        return new RawTensor(name, info.dtype(), info.shape(), into);
    }

    /** Closes the file; tensors already returned stay readable (see {@link TensorSource#close()}). */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + path, e);
        }
    }

    @Override
    public String toString() {
        return "SafetensorsReader[" + path + ", " + entries.size() + " tensors]";
    }

    private Entry entry(String name) {
        Entry entry = entries.get(name);
        if (entry == null) {
            throw new WeightFormatException("safetensors file " + path + " has no tensor '" + name + "'");
        }
        return entry;
    }

    private ByteBuffer readFully(long position, int length) throws IOException {
        return readFully(position, ByteBuffer.allocate(length));
    }

    /** Fills {@code buffer} from its position to its limit with the file's bytes from {@code position}; flipped. */
    private ByteBuffer readFully(long position, ByteBuffer buffer) throws IOException {
        int start = buffer.position();
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position() - start) < 0) {
                throw new EOFException(path + ": unexpected end of file at byte "
                        + (position + buffer.position() - start));
            }
        }
        return buffer.flip().position(start);
    }

    private JsonNode parseHeader(ByteBuffer bytes) {
        JsonNode header;
        try {
            header = STRICT_JSON.readTree(bytes.array(), 0, bytes.limit());
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "" : " (" + e.getLocation().offsetDescription() + ")";
            throw new WeightFormatException(
                    prefix() + "header is not valid JSON: " + e.getOriginalMessage() + where, e);
        } catch (IOException e) {
            // parsing a byte array does no real I/O: this is bytes Jackson cannot decode as text (CharConversionException)
            throw new WeightFormatException(prefix() + "header is not UTF-8 JSON: " + e.getMessage(), e);
        }
        if (header == null || !header.isObject()) {
            throw fail("header is not a JSON object");
        }
        return header;
    }

    private Map<String, String> parseMetadata(JsonNode node) {
        if (node == null) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw fail(METADATA_KEY + " is not a JSON object");
        }
        Map<String, String> map = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (!field.getValue().isTextual()) {
                throw fail(METADATA_KEY + " value of '" + field.getKey() + "' is not a string: " + field.getValue());
            }
            map.put(field.getKey(), field.getValue().textValue());
        }
        return Collections.unmodifiableMap(map);
    }

    private Map<String, Entry> parseEntries(JsonNode header, long dataSize) {
        List<Entry> list = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (!field.getKey().equals(METADATA_KEY)) {
                list.add(parseEntry(field.getKey(), field.getValue(), dataSize));
            }
        }
        list.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        checkTiling(list, dataSize);
        Map<String, Entry> map = new LinkedHashMap<>();
        for (Entry entry : list) {
            map.put(entry.info().name(), entry);
        }
        return map;
    }

    private Entry parseEntry(String name, JsonNode node, long dataSize) {
        if (!node.isObject()) {
            throw fail(name, "entry is not a JSON object: " + node);
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!ENTRY_FIELDS.contains(field)) {
                throw fail(name, "unexpected field '" + field + "', expected only dtype, shape, data_offsets");
            }
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw fail(name, "dtype must be a string, got " + dtypeNode);
        }
        TensorDType dtype;
        try {
            dtype = TensorDType.fromSafetensors(dtypeNode.textValue());
        } catch (IllegalArgumentException e) {
            throw fail(name, e.getMessage());
        }
        long[] shape = nonNegativeLongs(node.get("shape"), -1);
        if (shape == null) {
            throw fail(name, "shape must be a list of non-negative integers, got " + node.get("shape"));
        }
        long[] offsets = nonNegativeLongs(node.get("data_offsets"), 2);
        if (offsets == null) {
            throw fail(name, "data_offsets must be two non-negative integers [begin, end], got "
                    + node.get("data_offsets"));
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw fail(name, "data_offsets " + range(begin, end) + " begin after they end");
        }
        if (end > dataSize) {
            throw fail(name, "data_offsets " + range(begin, end) + " end beyond the data section of " + dataSize
                    + " bytes; file truncated?");
        }
        TensorInfo info;
        try {
            info = new TensorInfo(name, dtype, shape);
        } catch (IllegalArgumentException e) {
            throw fail(name, e.getMessage());
        }
        if (end - begin != info.byteSize()) {
            throw fail(name, "data_offsets " + range(begin, end) + " hold " + (end - begin) + " bytes, but dtype "
                    + dtype + " and shape " + Arrays.toString(shape) + " need " + info.byteSize());
        }
        return new Entry(info, begin, end);
    }

    /**
     * The tensors, sorted by offset, must cover the data section exactly: an overlap would alias weights,
     * and a gap or trailing bytes means the header and data disagree (the Rust reader refuses both too).
     */
    private void checkTiling(List<Entry> sorted, long dataSize) {
        long covered = 0;
        Entry previous = null;
        for (Entry entry : sorted) {
            if (entry.begin() < covered) {
                throw fail(entry.info().name(), "data_offsets " + range(entry.begin(), entry.end())
                        + " overlap tensor '" + previous.info().name() + "' at "
                        + range(previous.begin(), previous.end()));
            }
            if (entry.begin() > covered) {
                throw fail(entry.info().name(), "data_offsets " + range(entry.begin(), entry.end())
                        + " leave the gap " + range(covered, entry.begin()) + " that belongs to no tensor");
            }
            covered = entry.end();
            previous = entry;
        }
        if (covered != dataSize) {
            throw fail("the data section has " + dataSize + " bytes but the tensors cover only " + covered);
        }
    }

    /** The array's values, or null unless it is a JSON array of non-negative integers (of that length if >= 0). */
    private static long[] nonNegativeLongs(JsonNode node, int requiredLength) {
        if (node == null || !node.isArray() || (requiredLength >= 0 && node.size() != requiredLength)) {
            return null;
        }
        long[] values = new long[node.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode value = node.get(i);
            if (!value.isIntegralNumber() || !value.canConvertToLong() || value.longValue() < 0) {
                return null;
            }
            values[i] = value.longValue();
        }
        return values;
    }

    private static String range(long begin, long end) {
        return "[" + begin + ", " + end + ")";
    }

    private String prefix() {
        return "safetensors file " + path + ": ";
    }

    private WeightFormatException fail(String problem) {
        return new WeightFormatException(prefix() + problem);
    }

    private WeightFormatException fail(String tensor, String problem) {
        return new WeightFormatException(prefix() + "tensor '" + tensor + "': " + problem);
    }
}

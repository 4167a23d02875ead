package dev.montage.runtime.weights;

import java.io.EOFException;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A read-only view of a zip archive that hands out entry contents as buffers, memory-mapping STORED
 * entries in place.
 *
 * <p>{@link java.util.zip.ZipFile} cannot do that: it neither tells where an entry's bytes start nor
 * maps them, so a multi-gigabyte checkpoint would be copied onto the heap. This class reads the central
 * directory itself (zip64 included, as torch writes for archives past 4 GiB) and the local header of
 * each entry it opens.
 */
final class ZipArchive implements AutoCloseable {

    /** One central directory record. */
    record Entry(String name, int method, int flags, long compressedSize, long size, long localHeaderOffset) {
    }

    static final int STORED = 0;
    static final int DEFLATED = 8;

    static final int LOCAL_HEADER_SIGNATURE = 0x04034b50;
    static final int CENTRAL_HEADER_SIGNATURE = 0x02014b50;
    static final int END_SIGNATURE = 0x06054b50;
    static final int ZIP64_END_SIGNATURE = 0x06064b50;
    static final int ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
    static final int ZIP64_EXTRA_ID = 0x0001;
    static final int LOCAL_HEADER_SIZE = 30;
    static final int CENTRAL_HEADER_SIZE = 46;
    static final int END_SIZE = 22;
    static final int ZIP64_END_SIZE = 56;
    static final int ZIP64_LOCATOR_SIZE = 20;
    static final long MAX_32 = 0xFFFFFFFFL;
    static final int MAX_16 = 0xFFFF;

    private static final int ENCRYPTED_FLAG = 1;
    /** The largest array a JVM allocates; a little under {@code Integer.MAX_VALUE}. */
    private static final long MAX_BUFFER = Integer.MAX_VALUE - 8;
    private static final int INITIAL_INFLATE_BUFFER = 1 << 20;

    private final Path file;
    private final FileChannel channel;
    private final long fileSize;
    private final Map<String, Entry> entries;

    private ZipArchive(Path file, FileChannel channel) throws IOException {
        this.file = file;
        this.channel = channel;
        this.fileSize = channel.size();
        this.entries = readCentralDirectory();
    }

    /**
     * Opens an archive and reads its central directory.
     *
     * @throws WeightFormatException when the file is not a zip archive or its directory is damaged
     */
    static ZipArchive open(Path file) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new ZipArchive(file, channel);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** The entries by name, in central directory order. */
    Map<String, Entry> entries() {
        return entries;
    }

    /**
     * The uncompressed bytes of an entry: mapped from the file when STORED (no copy, pages load on
     * first access), inflated onto the heap when DEFLATED. CRCs are not checked, since that would read
     * every mapped byte up front.
     *
     * @throws WeightFormatException when the entry is truncated, encrypted, compressed with another
     *     method or larger than 2 GiB
     */
    ByteBuffer read(Entry entry) throws IOException {
        if ((entry.flags() & ENCRYPTED_FLAG) != 0) {
            throw error("entry '" + entry.name() + "' is encrypted");
        }
        if (entry.size() > MAX_BUFFER || entry.compressedSize() > MAX_BUFFER) {
            throw error("entry '" + entry.name() + "' is larger than 2 GiB, which a Java buffer cannot hold");
        }
        long inflationLimit = Math.max(LoaderLimits.INFLATION_FLOOR,
                entry.compressedSize() > MAX_BUFFER / LoaderLimits.INFLATION_RATIO ? MAX_BUFFER
                        : entry.compressedSize() * LoaderLimits.INFLATION_RATIO);
        if (entry.method() == DEFLATED && entry.size() > inflationLimit) {
            throw error("entry '" + entry.name() + "' declares " + entry.size() + " bytes inflated from "
                    + entry.compressedSize() + " compressed ones, more than " + LoaderLimits.INFLATION_RATIO
                    + " times as many (raise montage.zip.maxInflationRatio for a checkpoint that compresses better)");
        }
        ByteBuffer local = readFully(entry.localHeaderOffset(), LOCAL_HEADER_SIZE, "local header of " + entry.name());
        if (local.getInt(0) != LOCAL_HEADER_SIGNATURE) {
            throw error("entry '" + entry.name() + "' has no local header at offset " + entry.localHeaderOffset());
        }
        long dataOffset = entry.localHeaderOffset() + LOCAL_HEADER_SIZE + (local.getShort(26) & MAX_16)
                + (local.getShort(28) & MAX_16);
        if (dataOffset + entry.compressedSize() > fileSize) {
            throw error("entry '" + entry.name() + "' is truncated: its " + entry.compressedSize()
                    + " bytes at offset " + dataOffset + " run past the end of the " + fileSize + "-byte file");
        }
        if (entry.method() == STORED && entry.size() != entry.compressedSize()) {
            throw error("STORED entry '" + entry.name() + "' claims " + entry.size() + " bytes but occupies "
                    + entry.compressedSize());
        }
        return switch (entry.method()) {
            case STORED -> channel.map(FileChannel.MapMode.READ_ONLY, dataOffset, entry.size())
                    .order(ByteOrder.LITTLE_ENDIAN);
            case DEFLATED -> inflate(entry, readFully(dataOffset, (int) entry.compressedSize(), entry.name()));
            default -> throw error("entry '" + entry.name() + "' uses unsupported compression method "
                    + entry.method());
        };
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private ByteBuffer inflate(Entry entry, ByteBuffer compressed) {
        Inflater inflater = new Inflater(true); // zip entries are raw deflate streams, without zlib header
        try {
            inflater.setInput(compressed);
            // grown as the data inflates, so that a size the entry only declares costs no memory
            ByteBuffer out = ByteBuffer.allocate((int) Math.min(entry.size(), INITIAL_INFLATE_BUFFER));
            while (!inflater.finished()) {
                if (!out.hasRemaining()) {
                    if (out.capacity() == entry.size()) {
                        break;
                    }
                    out = ByteBuffer.allocate((int) Math.min(entry.size(), 2L * out.capacity())).put(out.flip());
                }
                if (inflater.inflate(out) == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
            }
            if (out.position() != entry.size() || !inflater.finished()) {
                throw error("entry '" + entry.name() + "' " + (inflater.finished() ? "inflates to "
                        : "does not end after ") + out.position() + " inflated bytes, expected " + entry.size());
            }
            return out.flip().order(ByteOrder.LITTLE_ENDIAN);
        } catch (DataFormatException e) {
            throw new WeightFormatException(file + ": entry '" + entry.name() + "' is corrupt: " + e.getMessage(), e);
        } finally {
            inflater.end();
        }
    }

    private Map<String, Entry> readCentralDirectory() throws IOException {
        int tailSize = (int) Math.min(fileSize, END_SIZE + MAX_16); // the EOCD record plus its longest comment
        ByteBuffer tail = readFully(fileSize - tailSize, tailSize, "end of central directory");
        int end = -1;
        for (int i = tailSize - END_SIZE; i >= 0 && end < 0; i--) {
            if (tail.getInt(i) == END_SIGNATURE) {
                end = i;
            }
        }
        if (end < 0) {
            throw error("not a zip archive (no end of central directory record)");
        }
        long count = tail.getShort(end + 10) & MAX_16;
        long directorySize = tail.getInt(end + 12) & MAX_32;
        long directoryOffset = tail.getInt(end + 16) & MAX_32;
        if (count == MAX_16 || directorySize == MAX_32 || directoryOffset == MAX_32) {
            ByteBuffer zip64End = readZip64End(fileSize - tailSize + end);
            count = zip64End.getLong(32);
            directorySize = zip64End.getLong(40);
            directoryOffset = zip64End.getLong(48);
        }
        if (directorySize > Integer.MAX_VALUE) {
            throw error("central directory of " + directorySize + " bytes is implausibly large");
        }
        ByteBuffer directory = readFully(directoryOffset, (int) directorySize, "central directory");
        Map<String, Entry> result = new LinkedHashMap<>();
        for (long i = 0; i < count; i++) {
            Entry entry = readCentralHeader(directory);
            result.put(entry.name(), entry);
        }
        return Collections.unmodifiableMap(result);
    }

    private ByteBuffer readZip64End(long endOffset) throws IOException {
        if (endOffset < ZIP64_LOCATOR_SIZE) {
            throw error("zip64 end of central directory locator is missing");
        }
        ByteBuffer locator = readFully(endOffset - ZIP64_LOCATOR_SIZE, ZIP64_LOCATOR_SIZE, "zip64 locator");
        if (locator.getInt(0) != ZIP64_LOCATOR_SIGNATURE) {
            throw error("zip64 end of central directory locator is missing");
        }
        ByteBuffer zip64End = readFully(locator.getLong(8), ZIP64_END_SIZE, "zip64 end of central directory");
        if (zip64End.getInt(0) != ZIP64_END_SIGNATURE) {
            throw error("zip64 end of central directory record is missing");
        }
        return zip64End;
    }

    private Entry readCentralHeader(ByteBuffer directory) {
        if (directory.remaining() < CENTRAL_HEADER_SIZE || directory.getInt(directory.position())
                != CENTRAL_HEADER_SIGNATURE) {
            throw error("central directory is damaged at byte " + directory.position());
        }
        ByteBuffer header = directory.slice(directory.position(), CENTRAL_HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        int nameLength = header.getShort(28) & MAX_16;
        int extraLength = header.getShort(30) & MAX_16;
        int commentLength = header.getShort(32) & MAX_16;
        directory.position(directory.position() + CENTRAL_HEADER_SIZE);
        if (directory.remaining() < nameLength + extraLength + commentLength) {
            throw error("central directory is truncated");
        }
        byte[] nameBytes = new byte[nameLength];
        directory.get(nameBytes);
        String name = new String(nameBytes, StandardCharsets.UTF_8);
        ByteBuffer extra = directory.slice(directory.position(), extraLength).order(ByteOrder.LITTLE_ENDIAN);
        directory.position(directory.position() + extraLength + commentLength);

        long size = header.getInt(24) & MAX_32;
        long compressedSize = header.getInt(20) & MAX_32;
        long offset = header.getInt(42) & MAX_32;
        // a zip64 extra field holds, in this order, exactly those values whose 32-bit field is saturated
        ByteBuffer zip64 = zip64Extra(extra);
        try {
            if (size == MAX_32) {
                size = zip64.getLong();
            }
            if (compressedSize == MAX_32) {
                compressedSize = zip64.getLong();
            }
            if (offset == MAX_32) {
                offset = zip64.getLong();
            }
        } catch (BufferUnderflowException e) {
            throw error("entry '" + name + "' lacks the zip64 extra field its sizes need");
        }
        if (size < 0 || compressedSize < 0 || offset < 0) {
            throw error("entry '" + name + "' declares a negative size or offset in its zip64 extra field (size "
                    + size + ", compressed " + compressedSize + ", offset " + offset + ")");
        }
        return new Entry(name, header.getShort(10) & MAX_16, header.getShort(8) & MAX_16, compressedSize, size,
                offset);
    }

    private static ByteBuffer zip64Extra(ByteBuffer extra) {
        while (extra.remaining() >= 4) {
            int id = extra.getShort() & MAX_16;
            int length = extra.getShort() & MAX_16;
            if (length > extra.remaining()) {
                break;
            }
            if (id == ZIP64_EXTRA_ID) {
                return extra.slice(extra.position(), length).order(ByteOrder.LITTLE_ENDIAN);
            }
            extra.position(extra.position() + length);
        }
        return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
    }

    private ByteBuffer readFully(long offset, int length, String what) throws IOException {
        if (offset < 0 || length > fileSize - offset) {
            throw error(what + " lies outside the " + fileSize + "-byte file");
        }
        ByteBuffer buffer = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, offset + buffer.position()) < 0) {
                throw new EOFException(file + ": " + what + " ends early");
            }
        }
        return buffer.flip();
    }

    private WeightFormatException error(String message) {
        return new WeightFormatException(file + ": " + message);
    }
}

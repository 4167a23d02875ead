package dev.montage.runtime.weights;

import static dev.montage.runtime.weights.ZipArchive.CENTRAL_HEADER_SIGNATURE;
import static dev.montage.runtime.weights.ZipArchive.CENTRAL_HEADER_SIZE;
import static dev.montage.runtime.weights.ZipArchive.END_SIGNATURE;
import static dev.montage.runtime.weights.ZipArchive.END_SIZE;
import static dev.montage.runtime.weights.ZipArchive.LOCAL_HEADER_SIGNATURE;
import static dev.montage.runtime.weights.ZipArchive.LOCAL_HEADER_SIZE;
import static dev.montage.runtime.weights.ZipArchive.MAX_16;
import static dev.montage.runtime.weights.ZipArchive.MAX_32;
import static dev.montage.runtime.weights.ZipArchive.STORED;
import static dev.montage.runtime.weights.ZipArchive.ZIP64_END_SIGNATURE;
import static dev.montage.runtime.weights.ZipArchive.ZIP64_END_SIZE;
import static dev.montage.runtime.weights.ZipArchive.ZIP64_EXTRA_ID;
import static dev.montage.runtime.weights.ZipArchive.ZIP64_LOCATOR_SIGNATURE;
import static dev.montage.runtime.weights.ZipArchive.ZIP64_LOCATOR_SIZE;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * Writes a zip archive of uncompressed entries whose data start at multiples of 64 bytes, the layout
 * of PyTorch's archive writer, so that readers can map tensor storages in place with natural alignment.
 *
 * <p>Like torch, it pads each local header with an extra field of id {@code "FB"}. Zip64 records are
 * written when sizes or offsets pass 4 GiB (or always, when asked, to exercise readers).
 */
final class StoredZipWriter implements Closeable {
    static final int ALIGNMENT = 64;

    private static final int PADDING_EXTRA_ID = 'F' | ('B' << 8);
    private static final int VERSION_STORED = 10;
    private static final int VERSION_ZIP64 = 45;
    private static final int DOS_DATE_1980_01_01 = (1 << 5) | 1; // fixed, for reproducible archives

    private record Written(byte[] name, long crc, long size, long offset) {
    }

    private final FileChannel out;
    private final boolean forceZip64;
    private final List<Written> written = new ArrayList<>();

    /**
     * @param out an empty channel positioned at 0; closed by {@link #close()}
     * @param forceZip64 write zip64 records even where 32-bit fields would do
     */
    StoredZipWriter(FileChannel out, boolean forceZip64) {
        this.out = out;
        this.forceZip64 = forceZip64;
    }

    /** Appends one STORED entry holding the remaining bytes of {@code data}. */
    void add(String name, ByteBuffer data) throws IOException {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        long offset = out.position();
        long size = data.remaining();
        CRC32 crc = new CRC32();
        crc.update(data.duplicate());
        boolean zip64 = forceZip64 || size >= MAX_32;

        int zip64Length = zip64 ? 4 + 16 : 0;
        long unpadded = offset + LOCAL_HEADER_SIZE + nameBytes.length + zip64Length + 4;
        int padding = (int) ((ALIGNMENT - unpadded % ALIGNMENT) % ALIGNMENT);
        ByteBuffer header = buffer(LOCAL_HEADER_SIZE + nameBytes.length + zip64Length + 4 + padding);
        header.putInt(LOCAL_HEADER_SIGNATURE)
                .putShort((short) (zip64 ? VERSION_ZIP64 : VERSION_STORED))
                .putShort((short) 0) // flags
                .putShort((short) STORED)
                .putShort((short) 0) // time
                .putShort((short) DOS_DATE_1980_01_01)
                .putInt((int) crc.getValue())
                .putInt((int) (zip64 ? MAX_32 : size)) // compressed size
                .putInt((int) (zip64 ? MAX_32 : size))
                .putShort((short) nameBytes.length)
                .putShort((short) (zip64Length + 4 + padding))
                .put(nameBytes);
        if (zip64) {
            header.putShort((short) ZIP64_EXTRA_ID).putShort((short) 16).putLong(size).putLong(size);
        }
        header.putShort((short) PADDING_EXTRA_ID).putShort((short) padding);
        while (header.hasRemaining()) {
            header.put((byte) 'Z');
        }
        writeFully(header.flip());
        writeFully(data.duplicate());
        written.add(new Written(nameBytes, crc.getValue(), size, offset));
    }

    /** Writes the central directory and end records, then closes the channel. */
    @Override
    public void close() throws IOException {
        try (out) {
            long directoryOffset = out.position();
            for (Written entry : written) {
                writeCentralHeader(entry);
            }
            long directorySize = out.position() - directoryOffset;
            boolean zip64 = forceZip64 || written.size() >= MAX_16 || directoryOffset >= MAX_32
                    || directorySize >= MAX_32;
            if (zip64) {
                writeZip64End(directoryOffset, directorySize);
            }
            writeFully(buffer(END_SIZE)
                    .putInt(END_SIGNATURE)
                    .putShort((short) 0) // this disk
                    .putShort((short) 0) // disk of the central directory
                    .putShort((short) (zip64 ? MAX_16 : written.size()))
                    .putShort((short) (zip64 ? MAX_16 : written.size()))
                    .putInt((int) (zip64 ? MAX_32 : directorySize))
                    .putInt((int) (zip64 ? MAX_32 : directoryOffset))
                    .putShort((short) 0) // comment length
                    .flip());
        }
    }

    private void writeCentralHeader(Written entry) throws IOException {
        boolean zip64Size = forceZip64 || entry.size() >= MAX_32;
        boolean zip64Offset = forceZip64 || entry.offset() >= MAX_32;
        int zip64Values = (zip64Size ? 2 : 0) + (zip64Offset ? 1 : 0);
        int extraLength = zip64Values == 0 ? 0 : 4 + 8 * zip64Values;
        int version = zip64Values == 0 ? VERSION_STORED : VERSION_ZIP64;
        ByteBuffer header = buffer(CENTRAL_HEADER_SIZE + entry.name().length + extraLength)
                .putInt(CENTRAL_HEADER_SIGNATURE)
                .putShort((short) version) // made by
                .putShort((short) version) // needed to extract
                .putShort((short) 0) // flags
                .putShort((short) STORED)
                .putShort((short) 0) // time
                .putShort((short) DOS_DATE_1980_01_01)
                .putInt((int) entry.crc())
                .putInt((int) (zip64Size ? MAX_32 : entry.size())) // compressed size
                .putInt((int) (zip64Size ? MAX_32 : entry.size()))
                .putShort((short) entry.name().length)
                .putShort((short) extraLength)
                .putShort((short) 0) // comment length
                .putShort((short) 0) // disk
                .putShort((short) 0) // internal attributes
                .putInt(0) // external attributes
                .putInt((int) (zip64Offset ? MAX_32 : entry.offset()))
                .put(entry.name());
        if (zip64Values > 0) {
            header.putShort((short) ZIP64_EXTRA_ID).putShort((short) (8 * zip64Values));
            if (zip64Size) {
                header.putLong(entry.size()).putLong(entry.size());
            }
            if (zip64Offset) {
                header.putLong(entry.offset());
            }
        }
        writeFully(header.flip());
    }

    private void writeZip64End(long directoryOffset, long directorySize) throws IOException {
        long zip64EndOffset = out.position();
        writeFully(buffer(ZIP64_END_SIZE + ZIP64_LOCATOR_SIZE)
                .putInt(ZIP64_END_SIGNATURE)
                .putLong(ZIP64_END_SIZE - 12) // size of the rest of this record
                .putShort((short) VERSION_ZIP64) // made by
                .putShort((short) VERSION_ZIP64) // needed to extract
                .putInt(0) // this disk
                .putInt(0) // disk of the central directory
                .putLong(written.size()) // entries on this disk
                .putLong(written.size())
                .putLong(directorySize)
                .putLong(directoryOffset)
                .putInt(ZIP64_LOCATOR_SIGNATURE)
                .putInt(0) // disk of the zip64 end record
                .putLong(zip64EndOffset)
                .putInt(1) // number of disks
                .flip());
    }

    private void writeFully(ByteBuffer bytes) throws IOException {
        ChannelWrites.writeFully(out, bytes);
    }

    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }
}

package dev.montage.runtime.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, so tests can produce files no correct writer would. */
final class RawSafetensors {
    private RawSafetensors() {
    }

    /** Writes {@code length field | header | data} with the given (possibly lying) header length. */
    static Path write(Path file, long headerLength, byte[] header, byte[] data) throws IOException {
        ByteBuffer out = ByteBuffer.allocate(Long.BYTES + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(headerLength).put(header).put(data);
        Files.write(file, out.array());
        return file;
    }

    /** Writes a file whose header length field is right. */
    static Path write(Path file, String header, byte[] data) throws IOException {
        byte[] bytes = header.getBytes(StandardCharsets.UTF_8);
        return write(file, bytes.length, bytes, data);
    }

    /** The whole file as text from byte 8 on, for asserting on the header layout. */
    static String headerText(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        int length = (int) ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new String(bytes, Long.BYTES, length, StandardCharsets.UTF_8);
    }
}

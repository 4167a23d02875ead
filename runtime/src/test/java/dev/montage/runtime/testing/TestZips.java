package dev.montage.runtime.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Writes zip archives with arbitrary content through java.util.zip, independently of the code under test. */
public final class TestZips {
    private TestZips() {
    }

    /** Writes {@code entries} in order, STORED or DEFLATED. */
    public static Path write(Path file, Map<String, byte[]> entries, boolean deflated) throws IOException {
        try (OutputStream fileOut = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(fileOut)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry entry = new ZipEntry(e.getKey());
                if (!deflated) {
                    CRC32 crc = new CRC32();
                    crc.update(e.getValue());
                    entry.setMethod(ZipEntry.STORED);
                    entry.setSize(e.getValue().length);
                    entry.setCrc(crc.getValue());
                }
                zip.putNextEntry(entry);
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
        return file;
    }
}

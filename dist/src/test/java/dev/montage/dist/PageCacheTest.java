package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PageCacheTest {

    @Test
    void evictedFilesAreNoLongerInThePageCache(@TempDir Path dir) throws IOException {
        assumeTrue(PageCache.supported(), "needs posix_fadvise");
        assumeFalse(Files.getFileStore(dir).type().equals("tmpfs"), "tmpfs files live only in the page cache");
        Path file = dir.resolve("weights.bin");
        byte[] bytes = new byte[4 << 20];
        new Random(1).nextBytes(bytes);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.wrap(bytes));
            // dirty pages cannot be dropped, only clean ones
            channel.force(true);
        }
        Files.readAllBytes(file);
        assumeTrue(resident(file), "mincore shows no cached pages on this file system");

        PageCache.evict(file);

        assertFalse(resident(file), "the file's pages are still cached");
        assertArrayEquals(bytes, Files.readAllBytes(file), "the file reads as before");
    }

    @Test
    void aMissingFileIsNamed(@TempDir Path dir) {
        assumeTrue(PageCache.supported(), "needs posix_fadvise");
        Path missing = dir.resolve("missing.safetensors");

        IOException e = assertThrows(IOException.class, () -> PageCache.evict(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    /** Whether any page of the file is in the page cache ({@code isLoaded} asks mincore; mapping touches nothing). */
    private static boolean resident(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
            for (int offset = 0; offset < mapped.capacity(); offset += 1 << 20) {
                if (mapped.slice(offset, 1 << 20).isLoaded()) {
                    return true;
                }
            }
            return false;
        }
    }
}

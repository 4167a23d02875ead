package dev.montage.dist.server;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

/**
 * Files that appear whole or not at all: bytes go to a hidden temporary file beside the target ({@code .NAME*.tmp})
 * and are renamed into place.
 */
final class AtomicFiles {
    private static final String SUFFIX = ".tmp";

    private AtomicFiles() {
    }

    static void write(Path target, byte[] bytes) throws IOException {
        Path tmp = temporary(target, bytes);
        try {
            moveIntoPlace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Writes the bytes to a temporary file beside {@code target} and returns it. */
    static Path temporary(Path target, byte[] bytes) throws IOException {
        Path tmp = Files.createTempFile(target.toAbsolutePath().getParent(), "." + target.getFileName(), SUFFIX);
        try {
            Files.write(tmp, bytes);
            return tmp;
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Deletes temporary files a crash left in {@code dir}; returns how many. */
    static int deleteLeftovers(Path dir) throws IOException {
        int deleted = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.toList()) {
                String name = p.getFileName().toString();
                if (name.startsWith(".") && name.endsWith(SUFFIX) && Files.isRegularFile(p)) {
                    Files.delete(p);
                    deleted++;
                }
            }
        }
        return deleted;
    }
}

package dev.montage.runtime.output;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.stream.Stream;

/**
 * Files that appear whole or not at all: bytes go to a hidden temporary file beside the target ({@code .NAME.*.tmp})
 * and are renamed (or linked) into place. The temporary file is created as any file of the process is, so the
 * umask decides the mode of the result ({@link Files#createTempFile} would make it 0600).
 *
 * <p>Durable too: the temporary file's bytes are forced to the device before it gets the target's name, and the
 * folder after, so a power loss leaves the old state or the whole new file, never a listed empty one.
 */
public final class AtomicFiles {
    private static final String SUFFIX = ".tmp";
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Forces what was written to a file, or the names in a folder, onto the storage device. */
    @FunctionalInterface
    interface Flush {
        void force(Path path, FileChannel channel) throws IOException;
    }

    static final Flush FORCE = (path, channel) -> channel.force(true);
    /** How files and folders are flushed: {@link #FORCE}, except in a test that observes the flushes. */
    static volatile Flush flush = FORCE;

    private AtomicFiles() {
    }

    /** Writes {@code target}, replacing a file of that name. */
    public static void write(Path target, byte[] bytes) throws IOException {
        Path tmp = temporary(target, bytes);
        try {
            moveIntoPlace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Writes the bytes under {@code target}'s name or, when a file has it, under the first free one of
     * {@code NAME-1.EXT}, {@code NAME-2.EXT}, ...; an existing file is never replaced, also when another process
     * writes the same name at the same time.
     *
     * @return the file written
     */
    public static Path writeNew(Path target, byte[] bytes) throws IOException {
        Path tmp = temporary(target, bytes);
        try {
            Path candidate = target;
            for (int n = 1; ; n++) {
                try {
                    // a hard link is made only where no file has the name: a rename would replace it
                    Files.createLink(candidate, tmp);
                    flushFolder(candidate);
                    return candidate;
                } catch (FileAlreadyExistsException e) {
                    candidate = numbered(target, n);
                }
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static Path numbered(Path target, int n) {
        String name = target.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String numbered = dot <= 0 ? name + "-" + n : name.substring(0, dot) + "-" + n + name.substring(dot);
        return target.resolveSibling(numbered);
    }

    /** Writes the bytes to a new temporary file beside {@code target} and returns it. */
    public static Path temporary(Path target, byte[] bytes) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        while (true) {
            Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36)
                    + SUFFIX);
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                flush.force(tmp, channel);
                return tmp;
            } catch (FileAlreadyExistsException e) {
                // another writer drew the same name: draw again
            } catch (IOException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
        }
    }

    /** Renames a temporary file onto {@code target}, replacing a file of that name. */
    public static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        flushFolder(target);
    }

    /** Makes the name just given to {@code file} durable: a rename or link is a change of its folder. */
    private static void flushFolder(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            flush.force(dir, channel);
        }
    }

    /** Deletes temporary files a crash left in {@code dir}; returns how many. */
    public static int deleteLeftovers(Path dir) throws IOException {
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

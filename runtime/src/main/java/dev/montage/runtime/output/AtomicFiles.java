package dev.montage.runtime.output;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
    private static final Pattern LEADING_NUMBER = Pattern.compile("\\d{1,18}(?=-)");

    /** Forces what was written to a file, or the names in a folder, onto the storage device. */
    @FunctionalInterface
    interface Flush {
        void force(Path path, FileChannel channel) throws IOException;
    }

    /** Writes a new file's bytes to its channel. */
    @FunctionalInterface
    public interface Content {
        void writeTo(FileChannel channel) throws IOException;
    }

    /** Fills a new folder. */
    @FunctionalInterface
    public interface FolderContent {
        void writeInto(Path folder) throws IOException;
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
     * Writes the bytes into {@code folder} under the next number, as AUTOMATIC1111 numbers its outputs:
     * {@code 00012-SUFFIX} where 12 is one more than the highest number a file name of the folder starts with. An
     * existing file is never replaced, also when another process numbers files in the same folder at the same time
     * (a name taken meanwhile moves on to the next number).
     *
     * @param suffix what follows the number and a dash, e.g. {@code 42.png}
     * @return the file written
     */
    public static Path writeNumbered(Path folder, String suffix, byte[] bytes) throws IOException {
        Files.createDirectories(folder);
        Path tmp = temporary(folder.resolve(suffix), bytes);
        try {
            for (long n = nextNumber(folder); ; n++) {
                Path candidate = folder.resolve(String.format("%05d-%s", n, suffix));
                try {
                    // a hard link is made only where no file has the name: a rename would replace it
                    Files.createLink(candidate, tmp);
                    flushFolder(candidate);
                    return candidate;
                } catch (FileAlreadyExistsException e) {
                    // taken: the next number
                }
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** One more than the highest number a name in {@code folder} starts with, or 0. */
    private static long nextNumber(Path folder) throws IOException {
        long highest = -1;
        try (Stream<Path> files = Files.list(folder)) {
            for (Path p : files.toList()) {
                Matcher m = LEADING_NUMBER.matcher(p.getFileName().toString());
                if (m.lookingAt()) {
                    highest = Math.max(highest, Long.parseLong(m.group()));
                }
            }
        }
        return highest + 1;
    }

    /**
     * Writes {@code target}, which must not exist: the content is written (streamed, it may be larger than memory) to
     * a temporary file, which then gets the name only if no file has it, also when another process writes the same
     * name at the same time.
     *
     * @throws FileAlreadyExistsException naming {@code target} when it exists; nothing is left behind
     */
    public static void createNew(Path target, Content content) throws IOException {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(target.toString(), null, "exists and is not replaced");
        }
        Path tmp = temporary(target, content);
        try {
            Files.createLink(target, tmp);
            flushFolder(target);
        } catch (FileAlreadyExistsException e) {
            throw new FileAlreadyExistsException(target.toString(), null, "exists and is not replaced");
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Makes the folder {@code target}, which must not exist, with what {@code content} writes into it: it fills a
     * hidden temporary folder beside the target, which is renamed into place once its files and names are forced to
     * the device. A failure removes the temporary folder.
     *
     * @throws FileAlreadyExistsException naming {@code target} when it exists
     */
    public static void createFolder(Path target, FolderContent content) throws IOException {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(target.toString(), null, "exists and is not replaced");
        }
        Path tmp = temporaryFolder(target);
        try {
            content.writeInto(tmp);
            flushTree(tmp);
            // without REPLACE_EXISTING: a folder that appeared meanwhile is not replaced
            Files.move(tmp, target);
            flushFolder(target);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
    }

    /** Writes the bytes to a new temporary file beside {@code target} and returns it. */
    public static Path temporary(Path target, byte[] bytes) throws IOException {
        return temporary(target, channel -> {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
        });
    }

    /** A new empty folder beside {@code target}, made as any folder of the process is (the umask decides its mode). */
    private static Path temporaryFolder(Path target) throws IOException {
        while (true) {
            try {
                return Files.createDirectory(sibling(target));
            } catch (FileAlreadyExistsException e) {
                // another writer drew the same name: draw again
            }
        }
    }

    private static Path sibling(Path target) {
        return target.toAbsolutePath().getParent().resolve("." + target.getFileName() + "."
                + Long.toUnsignedString(RANDOM.nextLong(), 36) + SUFFIX);
    }

    private static Path temporary(Path target, Content content) throws IOException {
        while (true) {
            Path tmp = sibling(target);
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                content.writeTo(channel);
                flush.force(tmp, channel);
                return tmp;
            } catch (FileAlreadyExistsException e) {
                // another writer drew the same name: draw again
            } catch (IOException | RuntimeException e) {
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

    /** Forces every file and folder under {@code root} (the root included) to the device. */
    private static void flushTree(Path root) throws IOException {
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.toList()) {
                try (FileChannel channel = FileChannel.open(p, StandardOpenOption.READ)) {
                    flush.force(p, channel);
                }
            }
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
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

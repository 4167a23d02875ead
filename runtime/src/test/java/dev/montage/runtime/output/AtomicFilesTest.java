package dev.montage.runtime.output;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file written atomically survives a power loss whole: its bytes reach the device before its name does, and its
 * name reaches the device (the folder is flushed) before the write returns.
 */
class AtomicFilesTest {
    private static final byte[] BYTES = "twelve bytes".getBytes();

    @TempDir
    Path dir;

    private final List<String> flushes = new ArrayList<>();
    private Path target;

    /** Notes what each flush covers and what the folder holds at that moment, then flushes for real. */
    private void observe() {
        AtomicFiles.flush = (path, channel) -> {
            String what = path.equals(dir) ? "folder" : Files.size(path) + " bytes of a temporary file";
            flushes.add(what + ", target " + (Files.exists(target) ? Files.size(target) + " bytes" : "absent"));
            channel.force(true);
        };
    }

    @AfterEach
    void restore() {
        AtomicFiles.flush = AtomicFiles.FORCE;
    }

    @FunctionalInterface
    private interface Write {
        void to(Path target) throws IOException;
    }

    private void assertFlushedBeforeAndAfterNaming(String name, Write write) throws IOException {
        target = dir.resolve(name);
        observe();
        write.to(target);
        assertEquals(List.of("12 bytes of a temporary file, target absent", "folder, target 12 bytes"), flushes);
    }

    @Test
    void theFileIsFlushedBeforeItIsRenamedAndTheFolderAfter() throws IOException {
        assertFlushedBeforeAndAfterNaming("result.json", t -> AtomicFiles.write(t, BYTES));
    }

    @Test
    void theFileIsFlushedBeforeItIsLinkedAndTheFolderAfter() throws IOException {
        assertFlushedBeforeAndAfterNaming("00000-image.png",
                t -> AtomicFiles.writeNumbered(t.getParent(), "image.png", BYTES));
    }

    @Test
    void aStreamedNewFileIsFlushedBeforeItIsLinkedAndTheFolderAfter() throws IOException {
        assertFlushedBeforeAndAfterNaming("model.safetensors",
                t -> AtomicFiles.createNew(t, channel -> channel.write(ByteBuffer.wrap(BYTES))));
    }

    @Test
    void aNewFileOrFolderNeverReplacesOneAndLeavesNothingBehind() throws IOException {
        Path file = Files.write(dir.resolve("taken"), BYTES);
        FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class,
                () -> AtomicFiles.createNew(file, channel -> channel.write(ByteBuffer.wrap(new byte[1]))));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertThrows(FileAlreadyExistsException.class, () -> AtomicFiles.createFolder(file, folder -> { }));
        assertArrayEquals(BYTES, Files.readAllBytes(file));
        assertEquals(List.of("taken"), listing(dir));
    }

    @Test
    void aFolderAppearsWholeOrNotAtAll() throws IOException {
        Path folder = dir.resolve("model");
        assertThrows(IOException.class, () -> AtomicFiles.createFolder(folder, tmp -> {
            Files.write(tmp.resolve("config.json"), BYTES);
            throw new IOException("disk full");
        }));
        assertEquals(List.of(), listing(dir));
        AtomicFiles.createFolder(folder, tmp -> Files.write(Files.createDirectory(tmp.resolve("unet"))
                .resolve("config.json"), BYTES));
        assertEquals(List.of("model"), listing(dir));
        assertArrayEquals(BYTES, Files.readAllBytes(folder.resolve("unet/config.json")));
    }

    private static List<String> listing(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aStagedFileIsFlushedWhenStagedAndItsFolderWhenMovedIntoPlace() throws IOException {
        target = dir.resolve("ID-0.png");
        observe();
        Path staged = AtomicFiles.temporary(target, BYTES);
        assertEquals(List.of("12 bytes of a temporary file, target absent"), flushes);
        AtomicFiles.moveIntoPlace(staged, target);
        assertEquals(List.of("12 bytes of a temporary file, target absent", "folder, target 12 bytes"), flushes);
    }
}

package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.testing.TestZips;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.function.Executable;

/** Small hostile checkpoints that ask for unbounded work: each is refused quickly, naming the file. */
class TorchCheckpointLimitsTest {
    private static final Duration QUICKLY = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    /** 40 levels of tuples, each holding the level below twice: 2^40 paths through a few hundred bytes. */
    private static PickleBuilder sharedDag() {
        PickleBuilder p = PickleBuilder.protocol2().op(']').op('q').raw(0);
        for (int level = 1; level <= 40; level++) {
            p.op('h').raw(level - 1).op('h').raw(level - 1).op(0x86).op('q').raw(level);
        }
        return p;
    }

    @Test
    void refusesASharedDagInsteadOfExpandingIt() throws IOException {
        Path file = checkpoint(sharedDag().stop().bytes());
        assertTrue(refused(file).getMessage().contains("objects"));
    }

    @Test
    void describesASharedDagWithoutExpandingIt() {
        byte[] pickle = sharedDag().string("k").string("v").op('s').stop().bytes();
        WeightFormatException e = assertTimeoutPreemptively(QUICKLY, () -> assertThrows(WeightFormatException.class,
                () -> unpickle(pickle)));
        assertTrue(e.getMessage().contains("SETITEM(S) on a tuple of 2 items"), e.getMessage());
    }

    @Test
    void describesAnIndirectCycleWithoutFollowingIt() {
        // a = []; b = [a]; a.append(b); then a SETITEM on a
        byte[] pickle = PickleBuilder.protocol2().op(']').op('q').raw(0).op(']').op('h').raw(0).op('a').op('a')
                .string("k").string("v").op('s').stop().bytes();
        WeightFormatException e = assertTimeoutPreemptively(QUICKLY, () -> assertThrows(WeightFormatException.class,
                () -> unpickle(pickle)));
        assertTrue(e.getMessage().contains("SETITEM(S) on a list of 1 item"), e.getMessage());
    }

    @Test
    void refusesAnEntryThatDeclaresMoreThanItsCompressedBytesCanHold() throws IOException {
        Path file = TestZips.write(dir.resolve("model.pt"), Map.of("model/data.pkl",
                PickleBuilder.protocol2().op('}').stop().bytes()), true);
        patchCentralSize(file, 0x7FFF_FFF0);
        assertTrue(refused(file).getMessage().contains("'model/data.pkl' declares 2147483632 bytes"));
    }

    @Test
    void refusesAZipBomb() throws IOException {
        Path file = TestZips.write(dir.resolve("model.pt"), Map.of("model/data.pkl", new byte[20 << 20]), true);
        WeightFormatException e = refused(file);
        assertTrue(e.getMessage().contains("'model/data.pkl' declares 20971520 bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("montage.zip.maxInflationRatio"), e.getMessage());
    }

    @Test
    void namesTheEntryOfANegativeZip64Size() throws IOException {
        Path file = dir.resolve("model.pt");
        try (StoredZipWriter zip = new StoredZipWriter(FileChannel.open(file, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE), true)) {
            zip.add("model/data.pkl", ByteBuffer.wrap(PickleBuilder.protocol2().op('}').stop().bytes()));
        }
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int central = centralHeader(bytes);
        int zip64 = central + ZipArchive.CENTRAL_HEADER_SIZE + bytes.getShort(central + 28) + 4;
        bytes.putLong(zip64, -1).putLong(zip64 + 8, -1);
        Files.write(file, bytes.array());
        WeightFormatException e = refused(file);
        assertTrue(e.getMessage().contains("'model/data.pkl' declares a negative size"), e.getMessage());
    }

    private Path checkpoint(byte[] pickle) throws IOException {
        return TestZips.write(dir.resolve("model.pt"), Map.of("model/data.pkl", pickle), false);
    }

    private static Object unpickle(byte[] pickle) {
        return new RestrictedUnpickler("hostile.pkl", ByteBuffer.wrap(pickle), (key, dtype, numel) -> {
            throw new AssertionError("no storage expected");
        }).load();
    }

    private static WeightFormatException refused(Path file) {
        Executable open = () -> TorchCheckpointReader.open(file).close();
        WeightFormatException e = assertTimeoutPreemptively(QUICKLY, () -> assertThrows(WeightFormatException.class,
                open));
        assertTrue(e.getMessage().startsWith(file.toString()), "names the file: " + e.getMessage());
        return e;
    }

    private static void patchCentralSize(Path file, int size) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putInt(centralHeader(bytes) + 24, size);
        Files.write(file, bytes.array());
    }

    private static int centralHeader(ByteBuffer bytes) {
        for (int i = 0; i + 4 <= bytes.capacity(); i++) {
            if (bytes.getInt(i) == ZipArchive.CENTRAL_HEADER_SIGNATURE) {
                return i;
            }
        }
        throw new AssertionError("no central directory in " + new String(bytes.array(), StandardCharsets.ISO_8859_1));
    }
}

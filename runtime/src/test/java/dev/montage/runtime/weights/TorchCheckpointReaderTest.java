package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.testing.TestZips;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Archive-level behaviour on hand-made zips: hostile pickles, damaged and foreign files. */
class TorchCheckpointReaderTest {
    @TempDir
    Path dir;

    /** {"w": _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 4), 0, (2, 2), (2, 1), ...)}. */
    private static byte[] oneTensorPickle() {
        return PickleBuilder.protocol2().op('}').string("w")
                .global("torch._utils", "_rebuild_tensor_v2").op('(')
                .op('(').string("storage").global("torch", "FloatStorage").string("0").string("cpu").int1(4)
                .op('t').op('Q')
                .int1(0).int1(2).int1(2).op(0x86).int1(2).int1(1).op(0x86).op(0x89)
                .global("collections", "OrderedDict").op(')').op('R').op('t').op('R')
                .op('s').stop().bytes();
    }

    private static byte[] floats(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    private Path checkpoint(Map<String, byte[]> entries, boolean deflated) throws IOException {
        return TestZips.write(dir.resolve("model.pt"), entries, deflated);
    }

    private static Map<String, byte[]> entries(Object... namesAndContents) {
        Map<String, byte[]> map = new LinkedHashMap<>();
        for (int i = 0; i < namesAndContents.length; i += 2) {
            Object content = namesAndContents[i + 1];
            map.put((String) namesAndContents[i], content instanceof String s
                    ? s.getBytes(StandardCharsets.US_ASCII) : (byte[]) content);
        }
        return map;
    }

    private WeightFormatException refused(Path file) {
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> TorchCheckpointReader.open(file));
        assertTrue(e.getMessage().startsWith(file.toString()), "message names the file: " + e.getMessage());
        return e;
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void readsStoredAndDeflatedArchives(boolean deflated) throws IOException {
        Path file = checkpoint(entries("model/data.pkl", oneTensorPickle(), "model/byteorder", "little",
                "model/data/0", floats(1, 2, 3, 4), "model/version", "3\n"), deflated);
        try (TorchCheckpointReader reader = TorchCheckpointReader.open(file)) {
            RawTensor w = reader.flatten().get("w");
            assertEquals("w", w.name());
            assertArrayEquals(new long[] {2, 2}, w.shape());
            assertArrayEquals(new float[] {1, 2, 3, 4}, w.toFloatArray());
            assertEquals(Map.of("w", w), reader.root());
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void refusesOsSystemInsideACheckpoint(boolean deflated) throws IOException {
        Path marker = dir.resolve("pwned");
        Path file = checkpoint(entries("model/data.pkl", RestrictedUnpicklerTest.osSystemPickle(marker),
                "model/version", "3\n"), deflated);
        WeightFormatException e = refused(file);
        assertTrue(e.getMessage().contains("(model/data.pkl)"), e.getMessage());
        assertTrue(e.getMessage().contains("refused pickle global 'os.system'"), e.getMessage());
        assertFalse(Files.exists(marker), "the command must not have run");
    }

    @Test
    void refusesFilesThatAreNotZips() throws IOException {
        Path text = Files.writeString(dir.resolve("notes.bin"), "just some text, long enough to look at");
        assertTrue(refused(text).getMessage().contains("not a zip archive"));
        Path empty = Files.write(dir.resolve("empty.bin"), new byte[0]);
        assertTrue(refused(empty).getMessage().contains("not a zip archive"));
    }

    @Test
    void refusesLegacyTorchFilesWithAHint() throws IOException {
        Path legacy = Files.write(dir.resolve("legacy.pt"), PickleBuilder.protocol2().op('J').int32(0x1950a86a)
                .stop().bytes());
        assertTrue(refused(legacy).getMessage().contains("legacy torch.save format"));
    }

    @Test
    void refusesZipsWhoseDirectoryIsCutOff() throws IOException {
        Path file = checkpoint(entries("model/data.pkl", oneTensorPickle(), "model/data/0", floats(1, 2, 3, 4)),
                false);
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 30));
        assertTrue(refused(file).getMessage().contains("no end of central directory"));
    }

    @Test
    void refusesArchivesWithoutDataPkl() throws IOException {
        Path file = checkpoint(entries("model/data/0", floats(1, 2, 3, 4), "model/version", "3\n"), false);
        assertTrue(refused(file).getMessage().contains("expected one '<folder>/data.pkl'"));
    }

    @Test
    void refusesMissingStorageEntries() throws IOException {
        Path file = checkpoint(entries("model/data.pkl", oneTensorPickle(), "model/version", "3\n"), false);
        assertTrue(refused(file).getMessage()
                .contains("storage entry 'model/data/0' referenced by data.pkl is missing"));
    }

    @Test
    void refusesTruncatedStorages() throws IOException {
        Path file = checkpoint(entries("model/data.pkl", oneTensorPickle(), "model/data/0", floats(1, 2, 3)),
                false);
        assertTrue(refused(file).getMessage().contains("storage '0' is truncated"));
    }

    @Test
    void refusesTruncatedPickles() throws IOException {
        byte[] pickle = oneTensorPickle();
        Path file = checkpoint(entries("model/data.pkl", Arrays.copyOf(pickle, pickle.length / 2),
                "model/data/0", floats(1, 2, 3, 4)), false);
        assertTrue(refused(file).getMessage().contains("pickle is truncated"));
    }

    @Test
    void refusesUnknownOpcodes() throws IOException {
        Path file = checkpoint(entries("model/data.pkl", PickleBuilder.protocol2().op(0xF1).stop().bytes()), false);
        assertTrue(refused(file).getMessage().contains("unsupported pickle opcode 0xf1"));
    }

    @Test
    void refusesRecursiveStructures() throws IOException {
        byte[] selfContaining = PickleBuilder.protocol2().op(']').op('q').raw(0).op('h').raw(0).op('a').stop().bytes();
        Path file = checkpoint(entries("model/data.pkl", selfContaining), false);
        assertTrue(refused(file).getMessage().contains("or is recursive"));
    }

    @Test
    void refusesBigEndianCheckpoints() throws IOException {
        Path file = checkpoint(entries("model/data.pkl", oneTensorPickle(), "model/byteorder", "big",
                "model/data/0", floats(1, 2, 3, 4)), false);
        assertTrue(refused(file).getMessage().contains("'big' byte order"));
    }
}

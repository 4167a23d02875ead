package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RestrictedUnpicklerTest {
    private static final RestrictedUnpickler.StorageResolver NO_STORAGES = (key, dtype, numel) -> {
        throw new AssertionError("no storage expected");
    };

    @TempDir
    Path dir;

    /** The classic exploit: {@code os.system(cmd)} through GLOBAL + REDUCE. */
    static byte[] osSystemPickle(Path marker) {
        return PickleBuilder.protocol2().global("os", "system").string("touch " + marker).op(0x85).op('R').stop()
                .bytes();
    }

    @Test
    void refusesOsSystem() {
        Path marker = dir.resolve("pwned");
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> load(osSystemPickle(marker)));
        assertTrue(e.getMessage().startsWith("hostile.pkl: "), e.getMessage());
        assertTrue(e.getMessage().contains("refused pickle global 'os.system'"), e.getMessage());
        assertFalse(Files.exists(marker), "the command must not have run");
    }

    @Test
    void refusesOsSystemNamedThroughStackGlobal() {
        Path marker = dir.resolve("pwned");
        byte[] pickle = new PickleBuilder().op(0x80).raw(4).shortString("os").shortString("system").op(0x93)
                .shortString("touch " + marker).op(0x85).op('R').stop().bytes();
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> load(pickle));
        assertTrue(e.getMessage().contains("'os.system'"), e.getMessage());
        assertFalse(Files.exists(marker));
    }

    @Test
    void refusesBuiltinsEval() {
        Path marker = dir.resolve("pwned");
        byte[] pickle = PickleBuilder.protocol2().global("builtins", "eval")
                .string("__import__('os').system('touch " + marker + "')").op(0x85).op('R').stop().bytes();
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> load(pickle));
        assertTrue(e.getMessage().contains("'builtins.eval'"), e.getMessage());
        assertFalse(Files.exists(marker));
    }

    @Test
    void refusesPython2GetattrAndSubprocess() {
        for (String[] global : new String[][] {{"__builtin__", "getattr"}, {"subprocess", "Popen"}}) {
            byte[] pickle = PickleBuilder.protocol2().global(global[0], global[1]).stop().bytes();
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> load(pickle));
            assertTrue(e.getMessage().contains("'" + global[0] + "." + global[1] + "'"), e.getMessage());
        }
    }

    @Test
    void refusesModelClasses() {
        // torch.save(model) pickles the module class; NEWOBJ would instantiate it
        byte[] pickle = PickleBuilder.protocol2().global("torch.nn.modules.linear", "Linear").op(')').op(0x81).stop()
                .bytes();
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> load(pickle));
        assertTrue(e.getMessage().contains("'torch.nn.modules.linear.Linear'"), e.getMessage());
    }

    @Test
    void refusesCallingAStorageClass() {
        byte[] pickle = PickleBuilder.protocol2().global("torch", "FloatStorage").op(')').op('R').stop().bytes();
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> load(pickle));
        assertTrue(e.getMessage().contains("calling torch.FloatStorage is not supported"), e.getMessage());
    }

    @Test
    void refusesUnknownOpcodeNamingIt() {
        byte[] pickle = PickleBuilder.protocol2().op('}').op(0xF0).stop().bytes();
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> load(pickle));
        assertTrue(e.getMessage().contains("unsupported pickle opcode 0xf0 at byte 3"), e.getMessage());
    }

    @Test
    void refusesTextProtocolInst() {
        // INST names and instantiates a class in one opcode; it is not in the supported set at all
        byte[] pickle = PickleBuilder.protocol2().op('(').op('i')
                .raw('o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n').stop().bytes();
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> load(pickle));
        assertTrue(e.getMessage().contains("unsupported pickle opcode 0x69"), e.getMessage());
    }

    @Test
    void reportsTruncatedPickles() {
        byte[] noStop = PickleBuilder.protocol2().op('}').bytes();
        assertTrue(assertThrows(WeightFormatException.class, () -> load(noStop)).getMessage().contains("truncated"));
        byte[] shortString = PickleBuilder.protocol2().op('X').int32(1000).raw('a', 'b').bytes();
        assertTrue(assertThrows(WeightFormatException.class, () -> load(shortString)).getMessage()
                .contains("runs past the end"));
    }

    @Test
    void reportsMalformedStacks() {
        byte[] setItemOnList = PickleBuilder.protocol2().op(']').string("k").string("v").op('s').stop().bytes();
        assertThrows(WeightFormatException.class, () -> load(setItemOnList));
        byte[] noMark = PickleBuilder.protocol2().op('t').stop().bytes();
        assertThrows(WeightFormatException.class, () -> load(noMark));
        byte[] unknownMemo = PickleBuilder.protocol2().op('h').raw(7).stop().bytes();
        assertThrows(WeightFormatException.class, () -> load(unknownMemo));
        byte[] popBelowMark = PickleBuilder.protocol2().op('N').op('(').op('0').op('t').stop().bytes();
        assertTrue(assertThrows(WeightFormatException.class, () -> load(popBelowMark)).getMessage()
                .contains("items below the last MARK were popped"));
    }

    @Test
    void decodesScalarsAndContainers() {
        byte[] pickle = PickleBuilder.protocol2()
                .op('}').op('q').raw(0)
                .op('(')
                .string("byte").int1(200)
                .string("short").op('M').raw(0x34, 0x12)
                .string("negative").op('J').int32(-5)
                .string("long").op(0x8A).raw(5, 0, 0, 0, 0, 0x80) // -2^39
                .string("huge").op(0x8A).raw(9, 0, 0, 0, 0, 0, 0, 0, 0, 1) // 2^64
                .string("zero").op(0x8A).raw(0)
                .string("float").op('G').raw(0x3F, 0xF8, 0, 0, 0, 0, 0, 0) // 1.5, big-endian
                .string("none").op('N')
                .string("flags").op(0x88).op(0x89).op(0x86)
                .string("list").op(']').op('(').int1(1).int1(2).op('e').int1(3).op('a')
                .string("tuple").op('(').int1(1).int1(2).int1(3).int1(4).op('t').op('q').raw(1)
                .string("again").op('h').raw(1)
                .int1(7).string("int key")
                .string("stack ops").op('(').int1(1).int1(2).op('1').op(']').op('2').op('0') // POP_MARK, DUP, POP
                .op('u')
                .stop().bytes();
        Map<?, ?> root = (Map<?, ?>) load(pickle);
        assertEquals(200L, root.get("byte"));
        assertEquals(0x1234L, root.get("short"));
        assertEquals(-5L, root.get("negative"));
        assertEquals(-(1L << 39), root.get("long"));
        assertEquals(BigInteger.ONE.shiftLeft(64), root.get("huge"));
        assertEquals(0L, root.get("zero"));
        assertEquals(1.5, root.get("float"));
        assertTrue(root.containsKey("none"));
        assertNull(root.get("none"));
        assertEquals(List.of(true, false), root.get("flags"));
        assertEquals(List.of(1L, 2L, 3L), root.get("list"));
        assertEquals(List.of(1L, 2L, 3L, 4L), root.get("tuple"));
        assertEquals(root.get("tuple"), root.get("again"));
        assertEquals("int key", root.get("7"));
        assertEquals(List.of(), root.get("stack ops"));
    }

    @Test
    void acceptsProtocol4FramingAndMemoize() {
        byte[] pickle = new PickleBuilder().op(0x80).raw(4).op(0x95).raw(30, 0, 0, 0, 0, 0, 0, 0)
                .shortString("collections").shortString("OrderedDict").op(0x93).op(0x94)
                .op(')').op(0x81) // NEWOBJ: OrderedDict.__new__
                .shortString("k").op('h').raw(0).op(')').op('R').op('s') // {"k": OrderedDict()}
                .op('}').op('b') // BUILD with attributes, ignored
                .op(0x8D).raw(2, 0, 0, 0, 0, 0, 0, 0, 'k', '8').op('N').op('s') // BINUNICODE8
                .stop().bytes();
        Map<String, Object> expected = new HashMap<>();
        expected.put("k", Map.of());
        expected.put("k8", null);
        assertEquals(expected, load(pickle));
    }

    @Test
    void rebuildsStridedViewsOfSharedStorage() {
        float[] values = {0, 1, 2, 3, 4, 5, 6, 7};
        ByteBuffer storage = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            storage.putFloat(v);
        }
        int[] resolved = {0};
        RestrictedUnpickler.StorageResolver resolver = (key, dtype, numel) -> {
            assertEquals("0", key);
            assertEquals(TensorDType.F32, dtype);
            assertEquals(8, numel);
            resolved[0]++;
            return storage.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
        };
        PickleBuilder p = PickleBuilder.protocol2().op(']').op('(');
        tensor(p, 2, new int[] {3}, new int[] {1}, false); // [2, 3, 4]
        tensor(p, 1, new int[] {2, 3}, new int[] {1, 2}, true); // transposed [[1, 3, 5], [2, 4, 6]]
        byte[] pickle = p.op('e').stop().bytes();
        List<?> tensors = (List<?>) new RestrictedUnpickler("views.pkl", ByteBuffer.wrap(pickle), resolver).load();
        assertArrayEquals(new float[] {2, 3, 4}, ((RawTensor) tensors.get(0)).toFloatArray());
        RawTensor transposed = (RawTensor) tensors.get(1);
        assertArrayEquals(new long[] {2, 3}, transposed.shape());
        assertArrayEquals(new float[] {1, 3, 5, 2, 4, 6}, transposed.toFloatArray());
        assertEquals(2, resolved[0]);
    }

    @Test
    void refusesViewsPastTheirStorage() {
        PickleBuilder p = PickleBuilder.protocol2();
        tensor(p, 6, new int[] {3}, new int[] {1}, false);
        byte[] pickle = p.stop().bytes();
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> new RestrictedUnpickler(
                "views.pkl", ByteBuffer.wrap(pickle), NO_STORAGES).load());
        assertTrue(e.getMessage().contains("reaches past the end of its storage"), e.getMessage());
    }

    @Test
    void refusesStridedViewsWhoseCopiesOutgrowTheirStorage() {
        RestrictedUnpickler.StorageResolver resolver = (key, dtype, numel) -> ByteBuffer.allocate(32)
                .order(ByteOrder.LITTLE_ENDIAN);
        PickleBuilder p = PickleBuilder.protocol2().op(']').op('(');
        tensor(p, 0, new int[] {4, 2}, new int[] {1, 4}, false); // a transposed copy: 8 of the 8 elements
        tensor(p, 0, new int[] {200}, new int[] {0}, false); // one element repeated 200 times
        byte[] pickle = p.op('e').stop().bytes();
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> new RestrictedUnpickler(
                "views.pkl", ByteBuffer.wrap(pickle), resolver).load());
        assertTrue(e.getMessage().contains("brings the copies of strided views to 832 bytes, more than the 32 bytes"),
                e.getMessage());
    }

    @Test
    void refusesMalformedPersistentIds() {
        byte[] pickle = PickleBuilder.protocol2().string("storage").op(0x85).op('Q').stop().bytes();
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> load(pickle));
        assertTrue(e.getMessage().contains("unsupported persistent id"), e.getMessage());
    }

    /**
     * Appends {@code _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 8), offset, size, stride,
     * False, OrderedDict()[, metadata])}.
     */
    private static void tensor(PickleBuilder p, int offset, int[] size, int[] stride, boolean withMetadata) {
        p.global("torch._utils", "_rebuild_tensor_v2").op('(');
        p.op('(').string("storage").global("torch", "FloatStorage").string("0").string("cpu").int1(8).op('t')
                .op('Q');
        p.int1(offset);
        p.op('(');
        for (int s : size) {
            p.int1(s);
        }
        p.op('t').op('(');
        for (int s : stride) {
            p.int1(s);
        }
        p.op('t').op(0x89).global("collections", "OrderedDict").op(')').op('R');
        if (withMetadata) {
            p.op('N');
        }
        p.op('t').op('R');
    }

    private static Object load(byte[] pickle) {
        return new RestrictedUnpickler("hostile.pkl", ByteBuffer.wrap(pickle), NO_STORAGES).load();
    }
}

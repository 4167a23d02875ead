package dev.montage.runtime.engine;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes the smallest TorchScript archive that {@code torch::jit::load} of PyTorch 2.7 accepts: a module
 * without parameters whose methods are given as TorchScript source.
 *
 * <p>Layout (every entry STORED, all under one top-level folder, as the stream reader requires):
 * <pre>
 * archive/version             "10\n"
 * archive/constants.pkl       pickle of ()
 * archive/data.pkl            pickle of a __torch__.Kernel object with state {'training': False}
 * archive/code/__torch__.py   "class Kernel(Module): ..."
 * </pre>
 * {@code .data/version}, {@code extra/} and the {@code *.debug_pkl} source maps that {@code torch.jit.save}
 * also writes are optional for the loader and left out.
 */
final class TorchScriptArchive {
    /** The class every archive defines; each load gets its own compilation unit, so the name never clashes. */
    static final String CLASS_NAME = "Kernel";

    /*
     * Version 10 is the newest file format PyTorch 2.x reads. Writing anything lower makes the importer
     * rewrite calls to operators whose schema changed since (gelu gained `approximate` at 10) through
     * "upgraders" that expect the old signature; our source is written against the current schemas.
     */
    private static final String FORMAT_VERSION = "10\n";

    private static final byte PROTO = (byte) 0x80;
    private static final byte GLOBAL = 'c';
    private static final byte EMPTY_TUPLE = ')';
    private static final byte NEWOBJ = (byte) 0x81;
    private static final byte EMPTY_DICT = '}';
    private static final byte BINUNICODE = 'X';
    private static final byte NEWFALSE = (byte) 0x89;
    private static final byte SETITEM = 's';
    private static final byte BUILD = 'b';
    private static final byte STOP = '.';

    private TorchScriptArchive() {
    }

    /**
     * Builds an archive of a {@code Kernel} module with the given methods.
     *
     * @param methods TorchScript method definitions ({@code def forward(self, x: Tensor) -> Tensor: ...}),
     *                each indented by two spaces as the body of the class
     */
    static byte[] withMethods(String methods) {
        String source = "class " + CLASS_NAME + "(Module):\n  training : bool\n" + methods;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            putStored(zip, "archive/version", FORMAT_VERSION.getBytes(StandardCharsets.US_ASCII));
            putStored(zip, "archive/constants.pkl", new byte[] {PROTO, 2, EMPTY_TUPLE, STOP});
            putStored(zip, "archive/data.pkl", modulePickle());
            putStored(zip, "archive/code/__torch__.py", source.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write a TorchScript archive in memory", e);
        }
        return bytes.toByteArray();
    }

    /**
     * The module object: pickle protocol 2, {@code __torch__.Kernel.__new__()} then BUILD with its state dict.
     * The loader fills each declared attribute from the dict, so it must name exactly {@code training}.
     */
    private static byte[] modulePickle() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(PROTO);
        out.write(2);
        out.write(GLOBAL);
        out.writeBytes(("__torch__\n" + CLASS_NAME + "\n").getBytes(StandardCharsets.US_ASCII));
        out.write(EMPTY_TUPLE);
        out.write(NEWOBJ);
        out.write(EMPTY_DICT);
        byte[] key = "training".getBytes(StandardCharsets.US_ASCII);
        out.write(BINUNICODE);
        out.writeBytes(new byte[] {(byte) key.length, 0, 0, 0});
        out.writeBytes(key);
        out.write(NEWFALSE);
        out.write(SETITEM);
        out.write(BUILD);
        out.write(STOP);
        return out.toByteArray();
    }

    private static void putStored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry entry = new ZipEntry(name);
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(data.length);
        entry.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        zip.write(data);
        zip.closeEntry();
    }
}

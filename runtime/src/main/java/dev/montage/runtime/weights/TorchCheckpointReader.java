package dev.montage.runtime.weights;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a checkpoint written by {@code torch.save} (PyTorch 1.6 or later: a zip archive), such as
 * MS-Diffusion's {@code ms_adapter.bin}, without running any of its pickle code.
 *
 * <p>The archive holds one top-level folder {@code <name>/} with {@code data.pkl} (the pickled object
 * tree), {@code data/<key>} (one entry per tensor storage), {@code version} and usually
 * {@code byteorder}. {@code data.pkl} is interpreted by an allow-listing unpickler that only knows
 * tensors, storages and {@code OrderedDict}; a checkpoint naming any other Python global (a model class,
 * {@code os.system}, ...) is refused with a {@link WeightFormatException} naming the global.
 *
 * <p>Storages are memory-mapped where they lie in the file (torch stores them uncompressed), so tensors
 * are views of the file; DEFLATED entries, which other zip tools may produce, are inflated onto the
 * heap. Tensors that torch saved as non-contiguous views are copied into row-major order.
 * {@code torch.nn.Parameter}s come out as their plain tensor.
 */
public final class TorchCheckpointReader implements AutoCloseable {
    private static final byte[] ZIP_MAGIC = {'P', 'K', 3, 4};
    private static final int PICKLE_PROTO = 0x80;
    /**
     * Far deeper than any checkpoint nests. A pickle can build cycles (a list memoized into itself) and
     * pathological nesting, which would otherwise overflow the stack while naming tensors.
     */
    private static final int MAX_DEPTH = 100;

    private final Path file;
    private final ZipArchive archive;
    private final Object root;
    private long objects;

    private TorchCheckpointReader(Path file, ZipArchive archive) throws IOException {
        this.file = file;
        this.archive = archive;
        String folder = topLevelFolder();
        checkByteOrder(folder);
        ZipArchive.Entry pickle = archive.entries().get(folder + "data.pkl");
        Map<String, ByteBuffer> storages = new HashMap<>(); // each entry mapped once, however many views
        try {
            Object tree = new RestrictedUnpickler(file + " (" + pickle.name() + ")", archive.read(pickle),
                    (key, dtype, numel) -> storage(storages.computeIfAbsent(key, k -> storageEntry(folder, k)), key,
                            dtype, numel)).load();
            this.root = named(tree, "", 0);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /**
     * Opens and unpickles a checkpoint. Storages are mapped as the pickle references them.
     *
     * @throws WeightFormatException when the file is not a torch zip checkpoint, is damaged, or its
     *     pickle names a refused global or uses an unsupported opcode; the message names the file
     * @throws IOException when the file cannot be read
     */
    public static TorchCheckpointReader open(Path file) throws IOException {
        checkMagic(file);
        ZipArchive archive = ZipArchive.open(file);
        try {
            return new TorchCheckpointReader(file, archive);
        } catch (IOException | RuntimeException e) {
            archive.close();
            throw e;
        }
    }

    /** The checkpoint file. */
    public Path file() {
        return file;
    }

    /**
     * The unpickled object, read-only: dicts as {@code Map<String, Object>} in file order, lists and
     * tuples as {@link List}, Python scalars as {@link Long}, {@link Double}, {@link Boolean}, {@link String} or
     * {@code null}, and tensors as {@link RawTensor}s named by their dotted path from the root (the same
     * names as {@link #flatten()}).
     */
    public Object root() {
        return root;
    }

    /**
     * All tensors of the tree by dotted path, in file order: dict keys and list indices joined by
     * {@code '.'}, e.g. {@code image_proj.latents} or {@code ms_adapter.1.to_k_ip.weight}. A tensor that
     * is the root itself is named {@code ""}.
     */
    public Map<String, RawTensor> flatten() {
        Map<String, RawTensor> out = new LinkedHashMap<>();
        collect(root, out);
        return out;
    }

    /**
     * Closes the file. Tensors already handed out stay readable: a mapping does not depend on the
     * channel it was made from.
     */
    @Override
    public void close() throws IOException {
        archive.close();
    }

    /** Refuses non-zip files before looking for a directory, with a hint for pre-1.6 checkpoints. */
    private static void checkMagic(Path file) throws IOException {
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(ZIP_MAGIC.length);
        }
        if (head.length > 0 && (head[0] & 0xFF) == PICKLE_PROTO) {
            throw new WeightFormatException(file + ": not a zip archive; this looks like the legacy torch.save "
                    + "format (PyTorch < 1.6, or _use_new_zipfile_serialization=False), which is not supported: "
                    + "re-save it with a current torch or convert it to safetensors");
        }
        if (!Arrays.equals(head, ZIP_MAGIC)) {
            throw new WeightFormatException(file + ": not a zip archive, so not a torch.save checkpoint");
        }
    }

    /** The folder holding data.pkl, with its trailing slash; torch names it after the saved file. */
    private String topLevelFolder() {
        List<String> folders = new ArrayList<>();
        for (String name : archive.entries().keySet()) {
            int slash = name.indexOf('/');
            if (slash > 0 && name.substring(slash + 1).equals("data.pkl")) {
                folders.add(name.substring(0, slash + 1));
            }
        }
        if (folders.size() != 1) {
            throw new WeightFormatException(file + ": expected one '<folder>/data.pkl' in the archive, found "
                    + (folders.isEmpty() ? "none" : folders) + "; is this a torch.save checkpoint?");
        }
        return folders.get(0);
    }

    /** Files without a byteorder record predate it and were, in practice, written little-endian. */
    private void checkByteOrder(String folder) throws IOException {
        ZipArchive.Entry entry = archive.entries().get(folder + "byteorder");
        if (entry == null) {
            return;
        }
        String order = StandardCharsets.US_ASCII.decode(archive.read(entry)).toString().trim();
        if (!order.equals("little")) {
            throw new WeightFormatException(file + ": storages are stored in '" + order
                    + "' byte order; only little-endian checkpoints are supported");
        }
    }

    private ByteBuffer storageEntry(String folder, String key) {
        ZipArchive.Entry entry = archive.entries().get(folder + "data/" + key);
        if (entry == null) {
            throw new WeightFormatException(file + ": storage entry '" + folder + "data/" + key
                    + "' referenced by data.pkl is missing");
        }
        try {
            return archive.read(entry);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The first {@code numel} elements of a storage entry, which must hold that many. */
    private ByteBuffer storage(ByteBuffer entry, String key, TensorDType dtype, long numel) {
        if (numel > entry.capacity() / dtype.byteSize()) {
            throw new WeightFormatException(file + ": storage '" + key + "' is truncated: " + entry.capacity()
                    + " bytes, but data.pkl declares " + numel + " " + dtype + " elements");
        }
        return entry.slice(0, (int) numel * dtype.byteSize());
    }

    /**
     * Names every tensor after its path, rebuilding the containers that hold one. A container the pickle shares is
     * rebuilt at each of its places, so the objects made are counted: a few hundred bytes of pickle can share
     * containers into a tree of 2^40 paths.
     */
    private Object named(Object node, String path, int depth) {
        if (++objects > LoaderLimits.PICKLE_OBJECTS) {
            throw new WeightFormatException(file + ": data.pkl holds more than " + LoaderLimits.PICKLE_OBJECTS
                    + " objects, counting a shared one at each place it appears (raise montage.pickle.maxObjects "
                    + "for a larger checkpoint)");
        }
        if (depth > MAX_DEPTH) {
            throw new WeightFormatException(file + ": data.pkl nests containers more than " + MAX_DEPTH
                    + " levels deep (at '" + path + "'), or is recursive");
        }
        if (node instanceof RawTensor tensor) {
            return tensor.renamed(path);
        }
        if (node instanceof Map<?, ?> map) {
            Map<String, Object> out = new LinkedHashMap<>();
            map.forEach((key, value) -> out.put((String) key, named(value, child(path, key), depth + 1)));
            return Collections.unmodifiableMap(out);
        }
        if (node instanceof List<?> list) {
            List<Object> out = new ArrayList<>(list.size());
            for (int i = 0; i < list.size(); i++) {
                out.add(named(list.get(i), child(path, i), depth + 1));
            }
            return Collections.unmodifiableList(out);
        }
        return node;
    }

    private static void collect(Object node, Map<String, RawTensor> out) {
        if (node instanceof RawTensor tensor) {
            out.put(tensor.name(), tensor);
        } else if (node instanceof Map<?, ?> map) {
            map.values().forEach(value -> collect(value, out));
        } else if (node instanceof List<?> list) {
            list.forEach(value -> collect(value, out));
        }
    }

    private static String child(String path, Object key) {
        return path.isEmpty() ? String.valueOf(key) : path + "." + key;
    }
}

package dev.montage.runtime.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Named tensors read from a checkpoint: one safetensors file or a sharded set of them.
 *
 * <p>Looking a tensor up never copies its data: {@link #tensor(String)} returns a read-only view of the
 * (memory-mapped) file. Implementations are safe for concurrent lookups.
 */
public interface TensorSource extends AutoCloseable {

    /**
     * The names of files in a folder of weights files that are read as weights, the name without the extension as
     * group 1: safetensors files and torch checkpoints.
     */
    Pattern WEIGHTS_FILE_NAME = Pattern.compile("(.+)\\.(safetensors|pt|bin|ckpt)");

    /**
     * Opens a checkpoint: a {@code *.index.json} as a {@link ShardedCheckpoint}, a {@code .bin}/{@code .pt}
     * file as a {@link TorchCheckpointSource}, any other file as a {@link SafetensorsReader}.
     *
     * @throws IOException when a file cannot be read
     * @throws WeightFormatException when a file is malformed
     */
    static TensorSource open(Path path) throws IOException {
        Path fileName = path.getFileName();
        if (fileName != null && fileName.toString().endsWith(".index.json")) {
            return ShardedCheckpoint.open(path);
        }
        return WeightSources.openFile(path);
    }

    /** The file this source was opened from (the index file for a sharded checkpoint); for messages. */
    Path path();

    /** Names of all tensors, in a stable order (see the implementation). */
    Set<String> names();

    /** Whether a tensor of that name exists. */
    default boolean contains(String name) {
        return names().contains(name);
    }

    /**
     * Dtype and shape of a tensor, without touching its data.
     *
     * @throws WeightFormatException naming the file and the tensor when there is no such tensor
     */
    TensorInfo info(String name);

    /**
     * A tensor with a read-only view of its bytes.
     *
     * @throws WeightFormatException naming the file and the tensor when there is no such tensor, or when
     *     the tensor is too large to be viewed as one buffer (over 2 GiB)
     */
    RawTensor tensor(String name);

    /**
     * A tensor with its bytes copied into {@code buffer} (from its position; the returned tensor views that part of
     * it), for a consumer that converts them at once. Unlike {@link #tensor(String)}, a source may then leave no
     * page of its file mapped, so that converted weights are not resident twice; this default copies the view and
     * drops the view's pages from resident memory ({@code madvise}).
     *
     * @throws IllegalArgumentException when the buffer has no room for the tensor
     * @throws WeightFormatException as {@link #tensor(String)}
     */
    default RawTensor read(String name, ByteBuffer buffer) {
        RawTensor t = tensor(name);
        ByteBuffer data = t.data();
        if (data.remaining() > buffer.remaining()) {
            throw new IllegalArgumentException("tensor '" + name + "' of " + path() + " is " + data.remaining()
                    + " bytes, the buffer has room for " + buffer.remaining());
        }
        ByteBuffer into = buffer.slice(buffer.position(), data.remaining());
        into.duplicate().put(data.duplicate());
        MappedPages.drop(data);
        return new RawTensor(name, t.dtype(), t.shape(), into);
    }

    /** The free-form string metadata of the checkpoint (empty when it has none). */
    Map<String, String> metadata();

    /**
     * Releases the file handles. Tensors already returned stay readable: their memory mappings live on
     * until they are garbage collected.
     */
    @Override
    void close();
}

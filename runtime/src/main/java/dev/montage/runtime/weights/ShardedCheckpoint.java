package dev.montage.runtime.weights;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A checkpoint split into several files, described by a {@code *.safetensors.index.json} (or a
 * {@code pytorch_model.bin.index.json} whose shards are torch checkpoints):
 * <pre>{"metadata": {"total_size": 123}, "weight_map": {"tensor.name": "model-00001-of-00002.safetensors"}}</pre>
 *
 * <p>Every shard is opened once, when the index is opened: that reads only the shards' headers (data is
 * mapped per tensor on demand), and it lets a missing shard or a tensor missing from its shard fail at load
 * time with a message naming the index, the shard and the tensor, instead of halfway through building a
 * model. Tensors a shard holds but the index does not list are ignored, as transformers does.
 *
 * <p>{@link #names()} follows the order of {@code weight_map}.
 */
public final class ShardedCheckpoint implements TensorSource {
    private final Path indexFile;
    private final Map<String, TensorSource> shardOf;
    private final List<TensorSource> shards;
    private final Map<String, String> metadata;

    private ShardedCheckpoint(Path indexFile, Map<String, TensorSource> shardOf,
            List<TensorSource> shards, Map<String, String> metadata) {
        this.indexFile = indexFile;
        this.shardOf = shardOf;
        this.shards = shards;
        this.metadata = metadata;
    }

    /**
     * Opens an index file and all the shards it names (they must lie in the same folder).
     *
     * @throws IOException when a file cannot be read
     * @throws WeightFormatException when the index or a shard is malformed, a shard is missing, or a tensor
     *     is not in the shard the index names
     */
    public static ShardedCheckpoint open(Path indexFile) throws IOException {
        JsonNode index;
        try {
            index = SafetensorsReader.STRICT_JSON.readTree(Files.readAllBytes(indexFile));
        } catch (JsonProcessingException e) {
            throw new WeightFormatException(
                    "safetensors index " + indexFile + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (index == null || !index.isObject()) {
            throw fail(indexFile, "not a JSON object");
        }
        Map<String, String> shardNames = parseWeightMap(indexFile, index.get("weight_map"));
        Map<String, String> metadata = parseMetadata(indexFile, index.get("metadata"));

        Path dir = indexFile.toAbsolutePath().getParent();
        Map<String, TensorSource> readers = new LinkedHashMap<>();
        try {
            Map<String, TensorSource> shardOf = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : shardNames.entrySet()) {
                String tensor = e.getKey();
                String shard = e.getValue();
                TensorSource reader = readers.get(shard);
                if (reader == null) {
                    reader = openShard(indexFile, dir, shard, tensor);
                    readers.put(shard, reader);
                }
                if (!reader.contains(tensor)) {
                    throw fail(indexFile, "tensor '" + tensor + "' is mapped to shard '" + shard
                            + "', but that file has no such tensor");
                }
                shardOf.put(tensor, reader);
            }
            return new ShardedCheckpoint(indexFile, Collections.unmodifiableMap(shardOf),
                    List.copyOf(readers.values()), metadata);
        } catch (IOException | RuntimeException e) {
            closeAll(readers.values(), e);
            throw e;
        }
    }

    /** The index file. */
    @Override
    public Path path() {
        return indexFile;
    }

    /** The shard files, in order of first appearance in the index. */
    public List<Path> shardFiles() {
        List<Path> files = new ArrayList<>(shards.size());
        for (TensorSource shard : shards) {
            files.add(shard.path());
        }
        return files;
    }

    /** Tensor names in {@code weight_map} order. */
    @Override
    public Set<String> names() {
        return shardOf.keySet();
    }

    @Override
    public boolean contains(String name) {
        return shardOf.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    @Override
    public RawTensor tensor(String name) {
        return shard(name).tensor(name);
    }

    @Override
    public RawTensor read(String name, ByteBuffer buffer) {
        return shard(name).read(name, buffer);
    }

    /**
     * The index's {@code metadata}, values as text (e.g. {@code total_size}); the shards' own
     * {@code __metadata__} is not merged in.
     */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Closes every shard. */
    @Override
    public void close() {
        closeAll(shards, null);
    }

    @Override
    public String toString() {
        return "ShardedCheckpoint[" + indexFile + ", " + shards.size() + " shards, " + shardOf.size() + " tensors]";
    }

    private TensorSource shard(String name) {
        TensorSource shard = shardOf.get(name);
        if (shard == null) {
            throw fail(indexFile, "no tensor '" + name + "'");
        }
        return shard;
    }

    private static TensorSource openShard(Path indexFile, Path dir, String shard, String firstTensor)
            throws IOException {
        // shards are plain file names next to the index; anything else could escape the model folder
        if (shard.isEmpty() || shard.equals(".") || shard.equals("..") || shard.contains("/") || shard.contains("\\")) {
            throw fail(indexFile, "shard '" + shard + "' (for tensor '" + firstTensor
                    + "') is not a plain file name in the index's folder");
        }
        Path file = dir.resolve(shard);
        if (!Files.isRegularFile(file)) {
            throw fail(indexFile, "shard '" + shard + "' (for tensor '" + firstTensor + "') does not exist at " + file);
        }
        return WeightSources.openFile(file);
    }

    private static Map<String, String> parseWeightMap(Path indexFile, JsonNode node) {
        if (node == null || !node.isObject()) {
            throw fail(indexFile, "no \"weight_map\" object");
        }
        Map<String, String> map = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw fail(indexFile, "weight_map entry of tensor '" + e.getKey() + "' is not a file name: "
                        + e.getValue());
            }
            map.put(e.getKey(), e.getValue().textValue());
        }
        return map;
    }

    /** Index metadata is free-form (transformers writes a number, total_size), so values are kept as text. */
    private static Map<String, String> parseMetadata(Path indexFile, JsonNode node) {
        if (node == null || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw fail(indexFile, "\"metadata\" is not a JSON object");
        }
        Map<String, String> map = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode value = e.getValue();
            map.put(e.getKey(), value.isValueNode() ? value.asText() : value.toString());
        }
        return Collections.unmodifiableMap(map);
    }

    /** Closes all readers; the first failure is rethrown, or attached to {@code primary} when there is one. */
    private static void closeAll(Iterable<TensorSource> readers, Exception primary) {
        RuntimeException failure = null;
        for (TensorSource reader : readers) {
            try {
                reader.close();
            } catch (UncheckedIOException e) {
                if (primary != null) {
                    primary.addSuppressed(e);
                } else if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private static WeightFormatException fail(Path indexFile, String problem) {
        return new WeightFormatException("safetensors index " + indexFile + ": " + problem);
    }
}

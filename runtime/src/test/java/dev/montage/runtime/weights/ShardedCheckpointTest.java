package dev.montage.runtime.weights;

import static dev.montage.runtime.weights.SafetensorsRoundTripTest.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedCheckpointTest {
    private static final String SHARD_1 = "model-00001-of-00002.safetensors";
    private static final String SHARD_2 = "model-00002-of-00002.safetensors";

    @TempDir
    Path dir;

    private final RawTensor a = tensor("layer.0.weight", TensorDType.F32, 2, 2);
    private final RawTensor b = tensor("layer.0.bias", TensorDType.F16, 2);
    private final RawTensor c = tensor("layer.1.weight", TensorDType.BF16, 3);

    @BeforeEach
    void writeShards() throws IOException {
        SafetensorsWriter.write(dir.resolve(SHARD_1), Map.of("format", "pt"), List.of(a, b));
        SafetensorsWriter.write(dir.resolve(SHARD_2), Map.of("format", "pt"), List.of(c));
    }

    @Test
    void readsTensorsAcrossShards() throws IOException {
        Path index = index("model.safetensors.index.json",
                "{\"metadata\":{\"total_size\":34},\"weight_map\":{"
                        + "\"layer.0.bias\":\"" + SHARD_1 + "\",\"layer.0.weight\":\"" + SHARD_1 + "\","
                        + "\"layer.1.weight\":\"" + SHARD_2 + "\"}}");
        try (TensorSource source = TensorSource.open(index)) {
            ShardedCheckpoint sharded = assertInstanceOf(ShardedCheckpoint.class, source);
            assertEquals(index, sharded.path());
            assertEquals(List.of(dir.resolve(SHARD_1).toAbsolutePath(), dir.resolve(SHARD_2).toAbsolutePath()),
                    sharded.shardFiles());
            assertEquals(List.of("layer.0.bias", "layer.0.weight", "layer.1.weight"), List.copyOf(sharded.names()));
            assertEquals(Map.of("total_size", "34"), sharded.metadata());
            for (RawTensor expected : List.of(a, b, c)) {
                assertEquals(new TensorInfo(expected.name(), expected.dtype(), expected.shape()),
                        sharded.info(expected.name()));
                assertEquals(expected.data(), sharded.tensor(expected.name()).data());
            }
            assertTrue(sharded.contains("layer.1.weight"));
            WeightFormatException e = assertThrows(WeightFormatException.class, () -> sharded.tensor("nope"));
            assertTrue(e.getMessage().contains(index.toString()) && e.getMessage().contains("'nope'"), e.getMessage());
        }
    }

    @Test
    void singleFileOpensAsReader() throws IOException {
        try (TensorSource source = TensorSource.open(dir.resolve(SHARD_2))) {
            assertInstanceOf(SafetensorsReader.class, source);
            assertEquals(List.of("layer.1.weight"), List.copyOf(source.names()));
        }
    }

    @Test
    void tensorMissingFromItsShard() throws IOException {
        Path index = index("bad.safetensors.index.json",
                "{\"weight_map\":{\"layer.0.weight\":\"" + SHARD_1 + "\",\"layer.1.weight\":\"" + SHARD_1 + "\"}}");
        String message = assertRefused(index);
        assertTrue(message.contains("tensor 'layer.1.weight'") && message.contains("shard '" + SHARD_1 + "'")
                && message.contains("no such tensor"), message);
    }

    @Test
    void missingShardFile() throws IOException {
        Path index = index("gone.safetensors.index.json",
                "{\"weight_map\":{\"layer.0.weight\":\"" + SHARD_1 + "\",\"x\":\"model-00003-of-00003.safetensors\"}}");
        String message = assertRefused(index);
        assertTrue(message.contains("shard 'model-00003-of-00003.safetensors'") && message.contains("'x'")
                && message.contains("does not exist"), message);
    }

    @Test
    void shardOutsideTheFolder() throws IOException {
        Path index = index("escape.safetensors.index.json", "{\"weight_map\":{\"x\":\"../" + SHARD_1 + "\"}}");
        assertTrue(assertRefused(index).contains("not a plain file name"));
    }

    @Test
    void malformedIndexes() throws IOException {
        assertTrue(assertRefused(index("a.safetensors.index.json", "{\"metadata\":{}}")).contains("weight_map"));
        assertTrue(assertRefused(index("b.safetensors.index.json", "{\"weight_map\":{\"x\":3}}")).contains("'x'"));
        assertTrue(assertRefused(index("c.safetensors.index.json", "{\"weight_map\":")).contains("not valid JSON"));
        assertTrue(assertRefused(index("d.safetensors.index.json", "[]")).contains("not a JSON object"));
    }

    @Test
    void brokenShardIsReportedByItsOwnName() throws IOException {
        Files.write(dir.resolve(SHARD_2), new byte[] {1, 2, 3});
        Path index = index("m.safetensors.index.json",
                "{\"weight_map\":{\"layer.0.weight\":\"" + SHARD_1 + "\",\"layer.1.weight\":\"" + SHARD_2 + "\"}}");
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> ShardedCheckpoint.open(index));
        assertTrue(e.getMessage().contains(dir.resolve(SHARD_2).toAbsolutePath().toString()), e.getMessage());
    }

    private Path index(String name, String json) throws IOException {
        return Files.writeString(dir.resolve(name), json);
    }

    private static String assertRefused(Path index) {
        WeightFormatException e = assertThrows(WeightFormatException.class, () -> ShardedCheckpoint.open(index).close());
        assertTrue(e.getMessage().contains(index.toString()), e.getMessage());
        return e.getMessage();
    }
}

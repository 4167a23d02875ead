package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.runtime.testing.Fuzzer;
import dev.montage.runtime.testing.TestZips;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutated safetensors files, torch checkpoints and pickles: each opens, or is refused with a
 * {@link WeightFormatException}, quickly. Fixed seeds; a few thousand inputs or a few seconds each.
 */
class WeightFilesFuzzTest {
    private static final int INPUTS = 3000;
    private static final Duration BUDGET = Duration.ofSeconds(6);

    @TempDir
    Path dir;

    @Test
    void safetensorsHeaders() throws IOException {
        Path seedFile = dir.resolve("seed.safetensors");
        Map<String, String> metadata = Map.of("format", "pt");
        List<RawTensor> tensors = List.of(
                new RawTensor("a.weight", TensorDType.F32, new long[] {2, 2}, ByteBuffer.allocate(16)),
                new RawTensor("b", TensorDType.F16, new long[] {3}, ByteBuffer.allocate(6)),
                new RawTensor("c", TensorDType.I64, new long[] {}, ByteBuffer.allocate(8)));
        SafetensorsWriter.write(seedFile, metadata, tensors);
        fuzzFiles(new Fuzzer("safetensors", 0x5AFE, List.of(Files.readAllBytes(seedFile))),
                dir.resolve("input.safetensors"), SafetensorsReader::open);
    }

    @Test
    void torchCheckpoints() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        for (boolean zip64 : new boolean[] {false, true}) {
            Path file = dir.resolve("seed" + zip64 + ".pt");
            TorchCheckpointWriter.write(file, TorchCheckpointWriterTest.sample(), zip64);
            seeds.add(Files.readAllBytes(file));
        }
        Map<String, byte[]> deflated = new LinkedHashMap<>();
        deflated.put("m/data.pkl", pickle(seeds.get(0)));
        seeds.add(Files.readAllBytes(TestZips.write(dir.resolve("deflated.pt"), deflated, true)));
        fuzzFiles(new Fuzzer("torch-zip", 0x70C4, seeds), dir.resolve("input.pt"), TorchCheckpointSource::open);
    }

    @Test
    void pickles() throws IOException {
        Path file = dir.resolve("seed.pt");
        TorchCheckpointWriter.write(file, TorchCheckpointWriterTest.sample());
        ByteBuffer storage = ByteBuffer.allocate(1 << 10);
        int ran = new Fuzzer("pickle", 0x91C1, List.of(pickle(Files.readAllBytes(file)))).run(INPUTS, BUDGET,
                bytes -> new RestrictedUnpickler("data.pkl", ByteBuffer.wrap(bytes), (key, dtype, numel) -> {
                    if (numel < 0 || numel * dtype.byteSize() > storage.capacity()) {
                        throw new WeightFormatException("storage '" + key + "' is truncated");
                    }
                    return storage.slice(0, (int) numel * dtype.byteSize());
                }).load(), WeightFormatException.class);
        assertTrue(ran > 100, "ran " + ran);
    }

    /** How a weight file is opened. */
    @FunctionalInterface
    private interface Opener {
        TensorSource open(Path file) throws IOException;
    }

    /** Writes each input to {@code input}, opens it and reads every tensor. */
    private static void fuzzFiles(Fuzzer fuzzer, Path input, Opener opener) {
        int ran = fuzzer.run(INPUTS, BUDGET, bytes -> {
            try (TensorSource source = opener.open(Files.write(input, bytes))) {
                source.names().forEach(source::tensor);
            }
        }, WeightFormatException.class);
        assertTrue(ran > 100, "ran " + ran);
    }

    /** The data.pkl entry of a checkpoint. */
    private static byte[] pickle(byte[] checkpoint) throws IOException {
        Path file = Files.createTempFile("checkpoint", ".pt");
        try (ZipArchive zip = ZipArchive.open(Files.write(file, checkpoint))) {
            ZipArchive.Entry entry = zip.entries().values().stream().filter(e -> e.name().endsWith("/data.pkl"))
                    .findFirst().orElseThrow();
            ByteBuffer bytes = zip.read(entry);
            byte[] out = new byte[bytes.remaining()];
            bytes.get(out);
            return out;
        } finally {
            Files.delete(file);
        }
    }
}

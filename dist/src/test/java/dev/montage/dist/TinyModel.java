package dev.montage.dist;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Montage's tiny random model, written once per test JVM into a temporary folder, and one pipeline on it (on the
 * shared float32 CPU engine) for every test that needs whole generations.
 */
public final class TinyModel {
    private static Path folder;
    private static ComponentRegistry registry;
    private static MontagePipeline pipeline;

    private TinyModel() {
    }

    /** The folder, written on first use (removed when the JVM exits). */
    public static synchronized Path folder() {
        if (folder == null) {
            try {
                Path dir = Files.createTempDirectory("montage-tiny");
                RandomModel.write(dir, "tiny", TensorDType.F32, 7, registry());
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir)));
                folder = dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return folder;
    }

    /** The classpath registry. */
    public static synchronized ComponentRegistry registry() {
        if (registry == null) {
            registry = ComponentRegistry.fromClasspath(TinyModel.class.getClassLoader());
        }
        return registry;
    }

    /** The shared pipeline; it lives as long as the JVM. */
    public static synchronized MontagePipeline pipeline() {
        if (pipeline == null) {
            pipeline = TestEngine.pipeline(registry(), folder()).build();
        }
        return pipeline;
    }

    /** Whether the folder is marked as holding random weights. */
    public static boolean markedRandom(Path dir) {
        return Files.isRegularFile(dir.resolve(RandomModel.MARKER));
    }

    private static void deleteTree(Path dir) {
        try (var files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary folder: the system cleans it eventually
        }
    }

    /**
     * Writes an SDXL textual inversion embedding of {@code vectors} vectors for the tiny model's encoders, its values
     * from {@code step}.
     */
    public static Path embedding(Path file, int vectors, float step) throws IOException {
        List<RawTensor> tensors = new ArrayList<>();
        for (String[] tower : new String[][] {{"clip_l", "text_encoder"}, {"clip_g", "text_encoder_2"}}) {
            int width = new ObjectMapper().readTree(folder().resolve(tower[1]).resolve("config.json")
                    .toFile()).get("hidden_size").asInt();
            ByteBuffer bytes = ByteBuffer.allocate(vectors * width * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < vectors * width; i++) {
                bytes.putFloat(step * (i % 17 - 8));
            }
            tensors.add(new RawTensor(tower[0], TensorDType.F32, new long[] {vectors, width}, bytes.flip()));
        }
        SafetensorsWriter.write(file, Map.of(), tensors);
        return file;
    }
}

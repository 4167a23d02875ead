package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.spi.MappedTensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A file's tensors made from a component's through the inverse of its view, which reads them back unchanged. */
class UnmappedTensorSourceTest {
    /** q, k, v fused by rows, a projection stored transposed, a matrix stored as a 1x1 convolution. */
    private static final Map<String, long[]> STORED = Map.of("attn.in_proj", new long[] {6, 3},
            "proj", new long[] {3, 2}, "conv", new long[] {2, 2, 1, 1});
    private static final Map<String, MappedTensor> VIEW = Map.of(
            "q", MappedTensor.rows("attn.in_proj", 0, 2, 2, 3),
            "k", MappedTensor.rows("attn.in_proj", 2, 2, 2, 3),
            "v", MappedTensor.rows("attn.in_proj", 4, 2, 2, 3),
            "projection", MappedTensor.transposed("proj", 2, 3),
            "matrix", MappedTensor.of("conv", 2, 2));

    @TempDir
    Path dir;

    private static RawTensor counting(String name, float first, long... shape) {
        int n = (int) RawTensor.numel(shape);
        ByteBuffer b = ByteBuffer.allocate(n * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putFloat(first + i);
        }
        return new RawTensor(name, TensorDType.F32, shape, b.flip());
    }

    private SafetensorsReader component() throws IOException {
        Path file = dir.resolve("component.safetensors");
        SafetensorsWriter.write(file, Map.of(), List.of(counting("q", 0, 2, 3), counting("k", 100, 2, 3),
                counting("v", 200, 2, 3), counting("projection", 300, 2, 3), counting("matrix", 400, 2, 2)));
        return SafetensorsReader.open(file);
    }

    @Test
    void rowsAreJoinedTransposesUndoneAndShapesRestored() throws IOException {
        try (SafetensorsReader component = component()) {
            UnmappedTensorSource stored = new UnmappedTensorSource(component, STORED, VIEW);
            assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105, 200, 201, 202, 203, 204,
                205}, stored.tensor("attn.in_proj").toFloatArray());
            assertArrayEquals(new float[] {300, 303, 301, 304, 302, 305}, stored.tensor("proj").toFloatArray());
            assertArrayEquals(new long[] {2, 2, 1, 1}, stored.tensor("conv").shape());
            assertArrayEquals(new float[] {400, 401, 402, 403}, stored.tensor("conv").toFloatArray());

            MappedTensorSource back = new MappedTensorSource(stored, VIEW);
            for (String name : component.names()) {
                assertArrayEquals(component.tensor(name).toFloatArray(), back.tensor(name).toFloatArray(), name);
            }
        }
    }

    @Test
    void aViewThatDoesNotReadEveryStoredRowExactlyOnceIsRefused() throws IOException {
        Map<String, MappedTensor> gap = new LinkedHashMap<>(VIEW);
        gap.remove("k");
        try (SafetensorsReader component = component()) {
            String message = assertThrows(IllegalArgumentException.class,
                    () -> new UnmappedTensorSource(component, STORED, gap)).getMessage();
            assertTrue(message.contains("'attn.in_proj' [6, 3] is not read exactly once"), message);

            Map<String, long[]> extra = new LinkedHashMap<>(STORED);
            extra.put("unread", new long[] {1});
            message = assertThrows(IllegalArgumentException.class,
                    () -> new UnmappedTensorSource(component, extra, VIEW)).getMessage();
            assertEquals("no tensor is stored as 'unread'", message);
        }
    }

    @Test
    void aComponentTensorOfAnotherShapeIsNamed() throws IOException {
        Map<String, MappedTensor> wide = new LinkedHashMap<>(VIEW);
        wide.put("matrix", MappedTensor.of("conv", 4));
        try (SafetensorsReader component = component()) {
            String message = assertThrows(IllegalArgumentException.class,
                    () -> new UnmappedTensorSource(component, STORED, wide)).getMessage();
            assertTrue(message.startsWith("'matrix' of " + component.path() + " is [2, 2], expected [4]"), message);
        }
    }
}

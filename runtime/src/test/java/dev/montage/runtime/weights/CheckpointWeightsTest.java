package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointWeightsTest {
    private static final BufferPoolMXBean DIRECT = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)
            .stream().filter(pool -> pool.getName().equals("direct")).findFirst().orElseThrow();
    private static final String TOKEN_EMBEDDING = "text_model.embeddings.token_embedding.weight";

    private static LocalModelFolder textEncoder2(ComputeDType dtype) {
        return new LocalModelFolder(Golden.model().resolve("text_encoder_2"), Optional.empty(), Device.cpu(), dtype,
                null);
    }

    @Test
    void upcastsTheF16TokenEmbeddingExactly() throws Exception {
        try (LocalModelFolder folder = textEncoder2(ComputeDType.FLOAT32);
                SafetensorsReader raw = SafetensorsReader.open(folder.path().resolve("model.safetensors"));
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDArray e = folder.weights().get(TOKEN_EMBEDDING, manager, 49408, 32);
            assertEquals(DataType.FLOAT32, e.getDataType());
            assertEquals(Device.cpu(), e.getDevice());
            assertArrayEquals(raw.tensor(TOKEN_EMBEDDING).toFloatArray(), e.toFloatArray());
        }
    }

    @Test
    void convertedTensorsAreReadWithoutMappingTheFile(@TempDir Path dir) throws Exception {
        Path maps = Path.of("/proc/self/maps");
        assumeTrue(Files.isReadable(maps), "needs /proc/self/maps to see the mappings");
        float[] a = {1.5f, -2f, 0.25f, 3f};
        float[] b = {7f, 8f, -9f, 10f, 11f, 12f};
        Path file = dir.resolve("weights.safetensors");
        new SafetensorsWriter().add("a", TensorDType.F16, new long[] {2, 2}, halves(a))
                .add("b", TensorDType.F16, new long[] {6}, halves(b))
                .add("c", TensorDType.F32, new long[] {2}, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .putFloat(4f).putFloat(5f).flip())
                .write(file);
        try (SafetensorsReader source = SafetensorsReader.open(file);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelWeights weights = new CheckpointWeights(source, Device.cpu(), ComputeDType.FLOAT32, null);
            NDArray first = weights.get("a", manager);
            // read through the buffer "a" went through: "a" must be a copy by now
            NDArray second = weights.get("b", manager);
            assertArrayEquals(a, first.toFloatArray());
            assertArrayEquals(b, second.toFloatArray());
            assertFalse(isMapped(maps, file), "the converted F16 tensors left the file mapped");
            // F32 in F32 compute is a view of the mapped file, which shows that the check above can fail
            assertArrayEquals(new float[] {4f, 5f}, weights.get("c", manager).toFloatArray());
            assertTrue(isMapped(maps, file));
        }
    }

    @Test
    void convertedTorchCheckpointTensorsStayReadableAfterTheirPagesAreDropped(@TempDir Path dir) throws Exception {
        // several pages of F16, so that MappedPages has whole pages to drop
        float[] values = new float[20_000];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i % 2048) - 1024;
        }
        Path file = dir.resolve("adapter.bin");
        TorchCheckpointWriter.write(file, Map.of("w", new RawTensor("w", TensorDType.F16,
                new long[] {values.length}, halves(values))));
        try (TorchCheckpointSource source = TorchCheckpointSource.open(file);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelWeights weights = new CheckpointWeights(source, Device.cpu(), ComputeDType.FLOAT32, null);
            assertArrayEquals(values, weights.get("w", manager).toFloatArray());
            // the second read faults the dropped pages in again from the file
            assertArrayEquals(values, weights.get("w", manager).toFloatArray());
        }
    }

    @Test
    void readsBf16TensorsExactlyIntoFloat32AndBf16Compute(@TempDir Path dir) throws Exception {
        // bf16 values: the smallest subnormal and the largest finite among them
        float[] values = {1.5f, -2f, 0.0078125f, 3.140625f, -0f, Float.intBitsToFloat(0x00010000),
            Float.intBitsToFloat(0x7F7F0000), Float.NEGATIVE_INFINITY};
        Path file = dir.resolve("weights.safetensors");
        float[] next = {-1f, 2f, -3f, 4f, -5f, 6f, -7f, 8f};
        new SafetensorsWriter().add("w", TensorDType.BF16, new long[] {2, 4}, bf16(values))
                .add("next", TensorDType.BF16, new long[] {8}, bf16(next)).write(file);
        Kernels kernels = TestEngine.kernels();
        try (SafetensorsReader source = SafetensorsReader.open(file);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDArray f32 = new CheckpointWeights(source, Device.cpu(), ComputeDType.FLOAT32, kernels)
                    .get("w", manager, 2, 4);
            NDArray bf16 = new CheckpointWeights(source, Device.cpu(), ComputeDType.BFLOAT16, kernels)
                    .get("w", manager, 2, 4);
            // read through the buffer "w" went through: "w" must be a copy by now
            NDArray other = new CheckpointWeights(source, Device.cpu(), ComputeDType.FLOAT32, kernels)
                    .get("next", manager);

            assertEquals(DataType.FLOAT32, f32.getDataType());
            assertArrayEquals(values, f32.toFloatArray());
            assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(bf16));
            assertArrayEquals(values, kernels.cast(bf16, ComputeDType.FLOAT32).toFloatArray());
            assertArrayEquals(next, other.toFloatArray());
        }
    }

    @Test
    void bf16TensorsInFloat32ComputeHoldNoDirectBuffers(@TempDir Path dir) throws Exception {
        // a float32 array created from Java memory keeps DJL's direct buffer for its lifetime: 16 MiB per tensor here
        long[] shape = {1024, 4096};
        Path file = dir.resolve("weights.safetensors");
        SafetensorsWriter writer = new SafetensorsWriter();
        for (int i = 0; i < 4; i++) {
            writer.add("w" + i, TensorDType.BF16, shape, ByteBuffer.allocate(2 * 1024 * 4096));
        }
        writer.write(file);
        try (SafetensorsReader source = SafetensorsReader.open(file);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelWeights weights = new CheckpointWeights(source, Device.cpu(), ComputeDType.FLOAT32,
                    TestEngine.kernels());
            weights.get("w0", manager).close(); // sizes the loader's staging buffer
            long before = DIRECT.getMemoryUsed();
            List<NDArray> held = List.of(weights.get("w1", manager), weights.get("w2", manager),
                    weights.get("w3", manager));

            long grown = DIRECT.getMemoryUsed() - before;
            assertTrue(grown < 4 << 20, "3 loaded bf16 tensors of 16 MiB as float32 hold " + grown
                    + " more bytes of direct buffers");
            assertEquals(0f, held.get(2).sum().getFloat());
        }
    }

    /** A checkpoint whose reads wait at a barrier, so that two reads must be under way at once to go on. */
    private record MeetingSource(TensorSource delegate, CyclicBarrier meeting) implements TensorSource {
        @Override
        public Path path() {
            return delegate.path();
        }

        @Override
        public Set<String> names() {
            return delegate.names();
        }

        @Override
        public TensorInfo info(String name) {
            return delegate.info(name);
        }

        @Override
        public RawTensor tensor(String name) {
            return delegate.tensor(name);
        }

        @Override
        public RawTensor read(String name, ByteBuffer buffer) {
            try {
                meeting.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                throw new IllegalStateException("the other load never read at the same time", e);
            }
            return delegate.read(name, buffer);
        }

        @Override
        public Map<String, String> metadata() {
            return delegate.metadata();
        }

        @Override
        public void close() {
            delegate.close();
        }
    }

    @Test
    void loadsOfDifferentWeightsReadAtTheSameTimeAndFreeTheirBuffer(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("weights.safetensors");
        new SafetensorsWriter().add("w", TensorDType.F16, new long[] {4}, halves(new float[] {1, 2, 3, 4}))
                .write(file);
        CyclicBarrier meeting = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (SafetensorsReader a = SafetensorsReader.open(file); SafetensorsReader b = SafetensorsReader.open(file);
                StagingBuffer first = new StagingBuffer(); StagingBuffer second = new StagingBuffer();
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelWeights one = new CheckpointWeights(new MeetingSource(a, meeting), first, Device.cpu(),
                    ComputeDType.FLOAT32, null);
            ModelWeights other = new CheckpointWeights(new MeetingSource(b, meeting), second, Device.cpu(),
                    ComputeDType.FLOAT32, null);
            Future<float[]> x = pool.submit(() -> one.get("w", manager).toFloatArray());
            Future<float[]> y = pool.submit(() -> other.get("w", manager).toFloatArray());
            assertArrayEquals(new float[] {1, 2, 3, 4}, x.get(30, TimeUnit.SECONDS));
            assertArrayEquals(new float[] {1, 2, 3, 4}, y.get(30, TimeUnit.SECONDS));
            assertTrue(first.capacity() > 0 && second.capacity() > 0, "each load read through its own buffer");
            long held = DIRECT.getMemoryUsed();
            first.release();
            second.release();
            assertEquals(0, first.capacity() + second.capacity());
            assertTrue(held - DIRECT.getMemoryUsed() >= 2L * (64 << 20), "released buffers free their memory");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void widensI16TensorsToInt32(@TempDir Path dir) throws Exception {
        // DJL's PyTorch binding aborts the JVM when asked for an int16 array
        Path file = dir.resolve("ids.safetensors");
        ByteBuffer stored = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN).putShort((short) -32768)
                .putShort((short) 7).putShort((short) 32767).flip();
        new SafetensorsWriter().add("ids", TensorDType.I16, new long[] {3}, stored).write(file);
        try (SafetensorsReader source = SafetensorsReader.open(file);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDArray ids = new CheckpointWeights(source, Device.cpu(), ComputeDType.FLOAT32, null).get("ids", manager);

            assertEquals(DataType.INT32, ids.getDataType());
            assertArrayEquals(new int[] {-32768, 7, 32767}, ids.toIntArray());
        }
    }

    private static ByteBuffer bf16(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putShort(HalfFloats.floatToBf16(v));
        }
        return b.flip();
    }

    private static ByteBuffer halves(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putShort(HalfFloats.fromFloat(v));
        }
        return b.flip();
    }

    private static boolean isMapped(Path maps, Path file) throws IOException {
        return Files.readString(maps).contains(file.toRealPath().toString());
    }

    @Test
    void narrowsToFloat16Compute() throws Exception {
        try (LocalModelFolder folder = textEncoder2(ComputeDType.FLOAT16);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDArray w = folder.weights().get("text_projection.weight", manager);
            assertEquals(DataType.FLOAT16, w.getDataType());
            NDArray e = folder.weights().get(TOKEN_EMBEDDING, manager);
            assertEquals(DataType.FLOAT16, e.getDataType());
        }
    }

    @Test
    void prefixedViewsUseCheckpointNames() throws Exception {
        try (LocalModelFolder folder = textEncoder2(ComputeDType.FLOAT32);
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            ModelWeights layer = folder.weights().prefixed("text_model").prefixed("encoder.layers.0");
            assertTrue(layer.contains("self_attn.q_proj.weight"));
            assertFalse(layer.contains("text_model.encoder.layers.0.self_attn.q_proj.weight"));
            assertArrayEquals(new long[] {32, 32}, layer.shape("self_attn.q_proj.weight"));
            NDArray q = layer.get("self_attn.q_proj.weight", manager);
            assertArrayEquals(new long[] {32, 32}, q.getShape().getShape());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> layer.get("self_attn.q_proj.weight", manager, 32, 64));
            assertTrue(e.getMessage().contains("[text_model.encoder.layers.0]"), e.getMessage());
            assertTrue(e.getMessage().contains("has shape [32, 32], expected [32, 64]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> layer.get("nope", manager));
            assertTrue(e.getMessage().contains("has no tensor 'nope'"), e.getMessage());
        }
    }

    @Test
    void reportsMissingAndUnexpectedKeysTogether() {
        try (LocalModelFolder folder = textEncoder2(ComputeDType.FLOAT32)) {
            ModelWeights mlp = folder.weights().prefixed("text_model.encoder.layers.2.mlp");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> mlp.requireExactly(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc3.weight")));
            assertTrue(e.getMessage().contains("1 missing [fc3.weight]"), e.getMessage());
            assertTrue(e.getMessage().contains("1 unexpected [fc2.bias]"), e.getMessage());
            mlp.requireExactly(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"));
        }
    }

    @Test
    void everyGoldenComponentLoadsAsArrays() {
        for (String component : List.of("unet", "vae", "text_encoder", "text_encoder_2", "image_encoder", "controlnet")) {
            try (LocalModelFolder folder = new LocalModelFolder(Golden.model().resolve(component), Optional.of("fp16"),
                    Device.cpu(), ComputeDType.FLOAT32, null);
                    NDManager manager = NDManager.newBaseManager(Device.cpu())) {
                assertTrue(folder.config().has("_class_name") || folder.config().has("architectures"), component);
                for (String name : folder.weights().names()) {
                    try (NDArray a = folder.weights().get(name, manager)) {
                        assertArrayEquals(folder.weights().shape(name), a.getShape().getShape(), name);
                    }
                }
            }
        }
    }
}

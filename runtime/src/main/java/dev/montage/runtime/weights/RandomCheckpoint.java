package dev.montage.runtime.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes random weights for a list of tensor names and shapes in the real safetensors format, for the
 * embedded default model, benchmarks at full size and tests. Values follow the usual initialisation so that
 * activations stay finite in every compute dtype: norm scales 1, biases 0, other tensors N(0, 0.02²).
 * Tensors are produced while writing, a few ahead on every core, so full-size models need little memory and the
 * cores share the work.
 */
public final class RandomCheckpoint {
    private RandomCheckpoint() {
    }

    /**
     * @param file   the safetensors file to write
     * @param shapes tensor name to shape, in any order
     * @param dtype  F32, F16 or BF16
     * @param seed   the same seed gives the same file
     */
    public static void write(Path file, Map<String, long[]> shapes, TensorDType dtype, long seed) throws IOException {
        requireFloating(dtype);
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt")
                .producedAhead(Runtime.getRuntime().availableProcessors());
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue();
            writer.addLazy(name, dtype, shape, () -> values(name, shape, dtype, tensorSeed(seed, name)));
        }
        writer.write(file);
    }

    /** One random tensor in memory, the same values {@link #write} gives it (for torch checkpoints). */
    public static RawTensor tensor(String name, long[] shape, TensorDType dtype, long seed) {
        requireFloating(dtype);
        return new RawTensor(name, dtype, shape, values(name, shape, dtype, tensorSeed(seed, name)));
    }

    /** Each tensor gets its own stream, so a file's values do not depend on the order of its tensors. */
    private static long tensorSeed(long seed, String name) {
        return seed ^ name.hashCode() * 0x9E3779B97F4A7C15L;
    }

    private static void requireFloating(TensorDType dtype) {
        if (dtype != TensorDType.F32 && dtype != TensorDType.F16 && dtype != TensorDType.BF16) {
            throw new IllegalArgumentException("random weights are F32, F16 or BF16, not " + dtype);
        }
    }

    private static ByteBuffer values(String name, long[] shape, TensorDType dtype, long seed) {
        long n = RawTensor.numel(shape);
        ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(n * dtype.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
        boolean normScale = shape.length == 1 && name.endsWith(".weight") && isNorm(name);
        boolean bias = name.endsWith(".bias");
        SplittableRandom random = new SplittableRandom(seed);
        for (long i = 0; i < n; i++) {
            float v = normScale ? 1f : bias ? 0f : (float) (nextGaussian(random) * 0.02);
            switch (dtype) {
                case F32 -> b.putFloat(v);
                case F16 -> b.putShort(HalfFloats.fromFloat(v));
                default -> b.putShort(HalfFloats.floatToBf16(v));
            }
        }
        return b.flip();
    }

    private static boolean isNorm(String name) {
        String n = name.toLowerCase(java.util.Locale.ROOT);
        return n.contains("norm") || n.contains("layrnorm") || n.contains(".ln");
    }

    private static double nextGaussian(SplittableRandom r) {
        // Box-Muller; SplittableRandom has no nextGaussian in Java 17
        double u = 1.0 - r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }
}

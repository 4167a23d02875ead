package dev.montage.runtime.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The reference tensors of one golden case ({@code cases/<name>/<name>.safetensors}), with comparisons that
 * report the measured max-abs error (printed, so the numbers can be quoted).
 */
public final class GoldenTensors implements AutoCloseable {
    private final String caseName;
    private final SafetensorsReader reader;
    private JsonNode tolerances;

    private GoldenTensors(String caseName, SafetensorsReader reader) {
        this.caseName = caseName;
        this.reader = reader;
    }

    /** Opens a case; skipped when the golden folder is absent. */
    public static GoldenTensors open(String caseName) {
        Path file = Golden.caseDir(caseName).resolve(caseName + ".safetensors");
        try {
            return new GoldenTensors(caseName, SafetensorsReader.open(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A golden tensor as a float32 array on the manager's device. */
    public NDArray array(NDManager manager, String name) {
        return manager.create(floats(name), new Shape(shape(name)));
    }

    /**
     * The case's absolute tolerance for a tensor from {@code tolerances.per_tensor_atol} of its JSON
     * ({@code "exact"} is 0).
     *
     * @throws IllegalArgumentException when the case lists no tolerance for it
     */
    public double tolerance(String name) {
        JsonNode t = tolerances().get(name);
        if (t == null) {
            throw new IllegalArgumentException(caseName + ": no tolerance for " + name);
        }
        return t.isNumber() ? t.asDouble() : 0;
    }

    /** Names of the tensors the case lists tolerances for. */
    public List<String> toleranceNames() {
        List<String> out = new ArrayList<>();
        tolerances().fieldNames().forEachRemaining(out::add);
        return out;
    }

    /** Compares with the case's own tolerance for the tensor. */
    public double assertClose(String name, NDArray actual) {
        return assertClose(name, actual, tolerance(name));
    }

    private JsonNode tolerances() {
        if (tolerances == null) {
            try {
                JsonNode json = new ObjectMapper().readTree(Golden.caseDir(caseName).resolve(caseName + ".json").toFile());
                tolerances = json.get("tolerances").get("per_tensor_atol");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tolerances;
    }

    /** A tensor of the case. */
    public RawTensor tensor(String name) {
        return reader.tensor(name);
    }

    /** Values as float32. */
    public float[] floats(String name) {
        return reader.tensor(name).toFloatArray();
    }

    /** Integer values (int64 tensors), e.g. token ids. */
    public long[] longs(String name) {
        float[] f = floats(name);
        long[] out = new long[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = (long) f[i];
        }
        return out;
    }

    /** The shape of a tensor. */
    public long[] shape(String name) {
        return reader.info(name).shape();
    }

    /**
     * Asserts shape and max-abs error of an array against a golden tensor.
     *
     * @return the measured max-abs error
     */
    public double assertClose(String name, NDArray actual, double atol) {
        assertArrayEquals(shape(name), actual.getShape().getShape(), () -> caseName + "/" + name + " shape");
        // bf16 arrays cannot be read by DJL directly; widening is exact
        if (actual.getDataType() == DataType.FLOAT32) {
            return assertClose(name, actual.toFloatArray(), atol);
        }
        try (NDArray f32 = actual.toType(DataType.FLOAT32, true)) {
            return assertClose(name, f32.toFloatArray(), atol);
        }
    }

    /** As {@link #assertClose(String, NDArray, double)} for plain values (shape not checked). */
    public double assertClose(String name, float[] actual, double atol) {
        float[] expected = floats(name);
        assertTrue(expected.length == actual.length,
                () -> caseName + "/" + name + ": " + actual.length + " values, expected " + expected.length);
        double max = maxAbsDiff(expected, actual);
        double bound = TestEngine.tolerance(atol, largestMagnitude(expected));
        System.out.printf("golden %s/%s: max-abs error %.3g (tolerance %.2g)%n", caseName, name, max, bound);
        assertTrue(max <= bound, () -> caseName + "/" + name + ": max-abs error " + max + " > " + bound);
        return max;
    }

    private static double largestMagnitude(float[] values) {
        double max = 0;
        for (float v : values) {
            max = Math.max(max, Math.abs(v));
        }
        return max;
    }

    /** Largest absolute difference (NaN anywhere counts as infinite). */
    public static double maxAbsDiff(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            if (Double.isNaN(d)) {
                return Double.POSITIVE_INFINITY;
            }
            max = Math.max(max, d);
        }
        return max;
    }

    /** A row-major slice {@code [from, to)} along the first axis. */
    public float[] rows(String name, int from, int to) {
        long[] shape = shape(name);
        int row = (int) (Arrays.stream(shape).skip(1).reduce(1, (x, y) -> x * y));
        return Arrays.copyOfRange(floats(name), from * row, to * row);
    }

    @Override
    public void close() {
        reader.close();
    }
}

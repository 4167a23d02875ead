package dev.montage.plugins.resampler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The resampler inputs of a golden pipeline case and its per-tensor tolerances. */
final class GoldenCase implements AutoCloseable {
    final String name;
    final GoldenTensors tensors;
    private final JsonNode tolerances;

    private GoldenCase(String name) {
        this.name = name;
        this.tensors = GoldenTensors.open(name);
        try {
            JsonNode json = new ObjectMapper().readTree(Golden.caseDir(name).resolve(name + ".json").toFile());
            this.tolerances = json.get("tolerances").get("per_tensor_atol");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static GoldenCase open(String name) {
        return new GoldenCase(name);
    }

    /** Number of subjects. */
    int subjects() {
        return (int) tensors.shape("image_embeds")[0];
    }

    /** [N, T, C] image encoder tokens, float32. */
    NDArray imageEmbeds(NDManager m) {
        return array(m, "image_embeds");
    }

    /** [N, D] phrase embeddings, float32. */
    NDArray phraseEmbeds(NDManager m) {
        return array(m, "phrase_embeds");
    }

    /** [N, 4] boxes (stored as [1, N, 4]), float32. */
    NDArray boxes(NDManager m) {
        return array(m, "boxes").reshape(subjects(), 4);
    }

    /** A golden tensor as a float32 array. */
    NDArray array(NDManager m, String tensor) {
        return m.create(tensors.floats(tensor), new Shape(tensors.shape(tensor)));
    }

    /** The case's absolute tolerance for a tensor ({@code "exact"} is 0). */
    double tolerance(String tensor) {
        JsonNode t = tolerances.get(tensor);
        if (t == null) {
            throw new IllegalArgumentException(name + ": no tolerance for " + tensor);
        }
        return t.isNumber() ? t.asDouble() : 0;
    }

    /** Compares with the case's tolerance, printing the measured max-abs error. */
    double assertClose(String tensor, NDArray actual) {
        return tensors.assertClose(tensor, actual, tolerance(tensor));
    }

    /** As {@link #assertClose(String, NDArray)} for plain values. */
    double assertClose(String tensor, float[] actual) {
        return tensors.assertClose(tensor, actual, tolerance(tensor));
    }

    @Override
    public void close() {
        tensors.close();
    }
}

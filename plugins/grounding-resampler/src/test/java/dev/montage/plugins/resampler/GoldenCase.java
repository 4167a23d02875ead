package dev.montage.plugins.resampler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.runtime.testing.GoldenTensors;

/** The resampler inputs of a golden pipeline case and its per-tensor tolerances. */
final class GoldenCase implements AutoCloseable {
    final String name;
    final GoldenTensors tensors;

    private GoldenCase(String name) {
        this.name = name;
        this.tensors = GoldenTensors.open(name);
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
        return tensors.array(m, tensor);
    }

    /** The case's absolute tolerance for a tensor ({@code "exact"} is 0). */
    double tolerance(String tensor) {
        return tensors.tolerance(tensor);
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

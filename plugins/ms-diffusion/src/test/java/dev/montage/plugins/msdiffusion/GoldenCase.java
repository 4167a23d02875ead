package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

/**
 * A golden pipeline case: its tensors, parameters and per-tensor tolerances, the resampler's inputs and the UNet's
 * inputs of each step.
 */
final class GoldenCase implements AutoCloseable {
    private static final String STAGE_PREFIX = "step0.unet.";

    final String name;
    final GoldenTensors tensors;
    final JsonNode json;

    private GoldenCase(String name) {
        this.name = name;
        this.tensors = GoldenTensors.open(name);
        try {
            this.json = new ObjectMapper().readTree(Golden.caseDir(name).resolve(name + ".json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static GoldenCase open(String name) {
        return new GoldenCase(name);
    }

    /** Number of denoising steps. */
    int steps() {
        return json.get("steps").asInt();
    }

    /**
     * The UNet input of step {@code i}: {@code step<i>.latent_model_input} and {@code .timestep}, the context
     * {@code cat(uncond, cond)} of the named tensors (text and subject tokens, which {@code layout} splits),
     * {@code add_text_embeds} and {@code add_time_ids}.
     */
    DenoisingModel.DenoisingInput unetInput(NDManager m, int step, String uncondContext, String condContext,
            TestLayout layout) {
        NDArray context = array(m, uncondContext).concat(array(m, condContext), 0);
        return new DenoisingModel.DenoisingInput(array(m, "step" + step + ".latent_model_input"),
                tensors.floats("step" + step + ".timestep")[0], layout.split(context), array(m, "add_text_embeds"),
                array(m, "add_time_ids"), null);
    }

    /**
     * Compares every {@code step0.unet.*} tensor of the case with the stage the UNet recorded under the same module
     * name.
     *
     * @return how many stages were compared
     */
    int assertStepZeroStages(Map<String, NDArray> recorded) {
        List<String> names = tensors.toleranceNames().stream().filter(n -> n.startsWith(STAGE_PREFIX)).toList();
        for (String n : names) {
            NDArray actual = recorded.get(n.substring(STAGE_PREFIX.length()));
            assertNotNull(actual, () -> name + ": the UNet recorded no stage " + n);
            assertClose(n, actual);
        }
        return names.size();
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

package dev.montage.runtime.testing;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.EncoderContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A golden pipeline case: its tensors, parameters ({@code <case>.json}) and per-tensor tolerances, and the UNet inputs
 * of each step. Plugins' tests extend it with what their components read of a case.
 */
public class GoldenCase implements AutoCloseable {
    private static final String STAGE_PREFIX = "step0.unet.";

    public final String name;
    public final GoldenTensors tensors;
    public final JsonNode json;

    protected GoldenCase(String name) {
        this.name = name;
        this.tensors = GoldenTensors.open(name);
        try {
            this.json = new ObjectMapper().readTree(Golden.caseDir(name).resolve(name + ".json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Number of denoising steps. */
    public int steps() {
        return json.get("steps").asInt();
    }

    /** A golden tensor as a float32 array. */
    public NDArray array(NDManager m, String tensor) {
        return tensors.array(m, tensor);
    }

    /** The case's absolute tolerance for a tensor ({@code "exact"} is 0). */
    public double tolerance(String tensor) {
        return tensors.tolerance(tensor);
    }

    /** Compares with the case's tolerance, printing the measured max-abs error. */
    public double assertClose(String tensor, NDArray actual) {
        return tensors.assertClose(tensor, actual, tolerance(tensor));
    }

    /** As {@link #assertClose(String, NDArray)} for plain values. */
    public double assertClose(String tensor, float[] actual) {
        return tensors.assertClose(tensor, actual, tolerance(tensor));
    }

    /**
     * The UNet input of step {@code i}: {@code step<i>.latent_model_input} and {@code .timestep}, the context
     * {@code cat(uncond, cond)} of the named tensors as {@code context} makes it an encoder context,
     * {@code add_text_embeds} and {@code add_time_ids}.
     */
    public DenoisingModel.DenoisingInput unetInput(NDManager m, int step, String uncondContext, String condContext,
            Function<NDArray, EncoderContext> context) {
        NDArray joined = array(m, uncondContext).concat(array(m, condContext), 0);
        return new DenoisingModel.DenoisingInput(array(m, "step" + step + ".latent_model_input"),
                tensors.floats("step" + step + ".timestep")[0], context.apply(joined), array(m, "add_text_embeds"),
                array(m, "add_time_ids"), null);
    }

    /**
     * Compares every {@code step0.unet.*} tensor of the case with the stage the UNet recorded under the same module
     * name.
     *
     * @return how many stages were compared
     */
    public int assertStepZeroStages(Map<String, NDArray> recorded) {
        List<String> names = tensors.toleranceNames().stream().filter(n -> n.startsWith(STAGE_PREFIX)).toList();
        for (String n : names) {
            NDArray actual = recorded.get(n.substring(STAGE_PREFIX.length()));
            assertNotNull(actual, () -> name + ": the UNet recorded no stage " + n);
            assertClose(n, actual);
        }
        return names.size();
    }

    @Override
    public void close() {
        tensors.close();
    }
}

package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.ModelFile;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The parts of MS-Diffusion's {@code ms_adapter.bin} the resampler needs. The checkpoint is what
 * {@code MSAdapter.save_to_checkpoint} writes: {@code {"image_proj": <Resampler state_dict>, "ms_adapter":
 * <attention processors' to_k_ip/to_v_ip>, "dummy_image_tokens": Parameter [1, num_dummy, output_dim]}}; the
 * {@code ms_adapter} entries belong to the UNet's attention layers and are not read here.
 */
final class MsAdapterCheckpoint {
    /** Where the adapter checkpoint is, under the model key the factories read it by. */
    static final ModelFile FILE = ModelFile.file(MsDiffusionResamplerFactory.CHECKPOINT_KEY, "ms_adapter.bin",
            "MS-Diffusion's ms_adapter.bin (torch checkpoint)");
    static final String IMAGE_PROJ = "image_proj";
    static final String DUMMY_IMAGE_TOKENS = "dummy_image_tokens";

    private final ModelWeights weights;

    /**
     * @throws IllegalArgumentException naming the checkpoint when it has no {@code image_proj} entries or no
     *     {@code dummy_image_tokens}
     */
    MsAdapterCheckpoint(ModelWeights weights) {
        this.weights = weights;
        List<String> missing = new ArrayList<>();
        if (weights.names().stream().noneMatch(n -> n.startsWith(IMAGE_PROJ + "."))) {
            missing.add("no '" + IMAGE_PROJ + ".*' tensors (the resampler)");
        }
        if (!weights.contains(DUMMY_IMAGE_TOKENS)) {
            missing.add("no '" + DUMMY_IMAGE_TOKENS + "' tensor");
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(weights.source() + " is not an MS-Diffusion adapter checkpoint: "
                    + String.join(" and ", missing) + "; expected the ms_adapter.bin written by "
                    + "MSAdapter.save_to_checkpoint");
        }
    }

    /** The resampler's state dict. */
    ModelWeights imageProj() {
        return weights.prefixed(IMAGE_PROJ);
    }

    /**
     * The learned background tokens.
     *
     * @param outputDim the width the resampler produces, which the tokens must share
     * @return [1, num_dummy, outputDim] attached to {@code manager}
     * @throws IllegalArgumentException naming the checkpoint and the tensor when its shape is not
     *     [1, n, outputDim]
     */
    NDArray dummyImageTokens(NDManager manager, int outputDim) {
        long[] shape = weights.shape(DUMMY_IMAGE_TOKENS);
        if (shape.length != 3 || shape[0] != 1 || shape[1] < 1 || shape[2] != outputDim) {
            throw new IllegalArgumentException(weights.source() + ": tensor '" + DUMMY_IMAGE_TOKENS + "' has shape "
                    + Arrays.toString(shape) + ", expected [1, num_dummy_tokens, " + outputDim
                    + "] (output_dim of the resampler)");
        }
        return weights.get(DUMMY_IMAGE_TOKENS, manager, shape);
    }
}

package dev.montage.dist.server;

import dev.montage.api.GenerationRequest;
import dev.montage.runtime.pipeline.ModelPaths;
import java.util.Objects;

/**
 * What the server runs, as {@code GET /v1/models} reports it.
 *
 * @param paths         the configured weights (base folder and explicit paths by model key)
 * @param randomWeights whether the model is Montage's embedded default with random weights
 * @param engine        the compute engine's description (device, dtype, threads)
 * @param defaults      the values of the fields a request leaves out (a profile's {@code defaults}; its prompt and
 *                      seed are not used)
 */
public record ServedModel(ModelPaths paths, boolean randomWeights, String engine, GenerationRequest defaults) {
    public ServedModel {
        Objects.requireNonNull(paths, "paths");
        Objects.requireNonNull(engine, "engine");
        Objects.requireNonNull(defaults, "defaults");
    }

    /** A model whose requests default to the API's defaults. */
    public ServedModel(ModelPaths paths, boolean randomWeights, String engine) {
        this(paths, randomWeights, engine, GenerationRequest.builder("").build());
    }
}

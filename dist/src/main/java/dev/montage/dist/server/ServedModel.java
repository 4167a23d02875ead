package dev.montage.dist.server;

import dev.montage.runtime.pipeline.ModelPaths;
import java.util.Objects;

/**
 * What the server runs, as {@code GET /v1/models} reports it.
 *
 * @param paths         the configured weights (base folder and explicit paths by model key)
 * @param randomWeights whether the model is Montage's embedded default with random weights
 * @param engine        the compute engine's description (device, dtype, threads)
 */
public record ServedModel(ModelPaths paths, boolean randomWeights, String engine) {
    public ServedModel {
        Objects.requireNonNull(paths, "paths");
        Objects.requireNonNull(engine, "engine");
    }
}

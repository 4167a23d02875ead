package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.montage.api.Cancellation;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelFolder;
import dev.montage.nn.LayerNorm;
import dev.montage.nn.Linear;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A CLIP text tower as transformers lays it out ({@code CLIPTextModel}, and {@code CLIPTextModelWithProjection}
 * when the checkpoint has {@code text_projection.weight}): token + position embeddings, causal pre-LayerNorm
 * encoder layers, final layer norm, pooled output at the end-of-text token, optional projection.
 *
 * <p>Owns its weights (in its own manager); {@link #close()} releases them.
 */
final class ClipTextModel implements AutoCloseable {
    private final ClipConfig config;
    private final NDManager weightsManager;
    private final NDArray tokenEmbedding;
    private final NDArray positionEmbedding;
    private final List<ClipEncoderLayer> layers = new ArrayList<>();
    private final LayerNorm finalLayerNorm;
    /** Null without {@code text_projection}. */
    private final Linear projection;
    private final Kernels kernels;
    private final ComputeDType dtype;

    /**
     * One forward pass.
     *
     * @param penultimate [B, L, D] output of the second-to-last layer, before the final layer norm
     * @param pooled      [B, D] final-layer-normed hidden state at the end-of-text token
     * @param projected   [B, P] {@code pooled} times {@code text_projection}, or null without projection
     */
    record Output(NDArray penultimate, NDArray pooled, NDArray projected) {
    }

    /**
     * @param inversions textual inversion embeddings whose vectors of {@code tensor} follow the vocabulary's rows
     */
    ClipTextModel(ModelFolder folder, NDManager parent, Kernels kernels, ComputeDType dtype,
            TextualInversions inversions, String tensor) {
        this.config = ClipConfig.text(folder.config());
        this.kernels = kernels;
        this.dtype = dtype;
        this.weightsManager = parent.newSubManager();
        Weights all = Weights.loading(folder.weights(), weightsManager, kernels);
        Weights w = all.prefixed("text_model");
        int d = config.hiddenSize();
        tokenEmbedding = inversions.appended(w.get("embeddings.token_embedding.weight", config.vocabSize(), d), tensor,
                weightsManager, kernels);
        positionEmbedding = w.get("embeddings.position_embedding.weight", config.maxPositions(), d);
        for (int i = 0; i < config.layers(); i++) {
            layers.add(new ClipEncoderLayer(w.prefixed("encoder.layers." + i), config));
        }
        finalLayerNorm = LayerNorm.load(w, "final_layer_norm", d, config.layerNormEps());
        projection = all.contains("text_projection.weight")
                ? Linear.withoutBias(all, "text_projection", d, config.projectionDim())
                : null;
    }

    ClipConfig config() {
        return config;
    }

    /**
     * The tensors a checkpoint of this configuration holds, by name and shape (used to write random models
     * in the real layout).
     */
    static Map<String, long[]> weightShapes(ClipConfig c, boolean withProjection) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        long d = c.hiddenSize();
        shapes.put("text_model.embeddings.token_embedding.weight", new long[] {c.vocabSize(), d});
        shapes.put("text_model.embeddings.position_embedding.weight", new long[] {c.maxPositions(), d});
        ClipEncoderLayer.weightShapes("text_model.encoder.layers", c, shapes);
        shapes.put("text_model.final_layer_norm.weight", new long[] {d});
        shapes.put("text_model.final_layer_norm.bias", new long[] {d});
        if (withProjection) {
            shapes.put("text_projection.weight", new long[] {c.projectionDim(), d});
        }
        return shapes;
    }

    /**
     * Runs the tower on token ids.
     *
     * @param ids     [B][L] token ids, L &le; max positions
     * @param manager receives the outputs
     */
    Output forward(int[][] ids, NDManager manager) {
        int batch = ids.length;
        int len = ids[0].length;
        if (len > config.maxPositions()) {
            throw new IllegalArgumentException(len + " tokens exceed max_position_embeddings " + config.maxPositions());
        }
        long[] flat = new long[batch * len];
        for (int b = 0; b < batch; b++) {
            if (ids[b].length != len) {
                throw new IllegalArgumentException("token rows differ in length: " + ids[b].length + " vs " + len);
            }
            for (int i = 0; i < len; i++) {
                flat[b * len + i] = ids[b][i];
            }
        }
        try (NDManager scope = manager.newSubManager()) {
            NDArray idArray = scope.create(flat, new Shape(batch, len));
            NDArray tokens = Embedding.embedding(idArray, tokenEmbedding, SparseFormat.DENSE).singletonOrThrow();
            // indexing attaches to the indexed array's manager unless told otherwise: keep it in the scope
            NDArray x = tokens.add(positionEmbedding.get(scope, new NDIndex(":" + len)));
            NDArray causal = causalBias(scope, len);
            NDArray penultimate = null;
            for (int i = 0; i < layers.size(); i++) {
                Cancellation.checkpoint();
                x = layers.get(i).forward(x, causal);
                if (i == layers.size() - 2) {
                    penultimate = x;
                }
            }
            NDArray last = finalLayerNorm.forward(x);
            NDList rows = new NDList(batch);
            for (int b = 0; b < batch; b++) {
                rows.add(last.get(b, endOfTextIndex(ids[b])));
            }
            NDArray pooled = NDArrays.stack(rows);
            NDArray projected = projection == null ? null : projection.forward(pooled);
            penultimate.attach(manager);
            pooled.attach(manager);
            if (projected != null) {
                projected.attach(manager);
            }
            return new Output(penultimate, pooled, projected);
        }
    }

    /**
     * Where transformers takes the pooled output: with the legacy {@code eos_token_id} 2 that SDXL's configs
     * carry, at {@code argmax(input_ids)} (the first highest id, i.e. the first end-of-text token); otherwise at
     * the first {@code eos_token_id}.
     */
    private int endOfTextIndex(int[] ids) {
        int best = 0;
        for (int i = 0; i < ids.length; i++) {
            if (config.eosTokenId() == 2 ? ids[i] > ids[best] : ids[i] == config.eosTokenId()) {
                best = i;
                if (config.eosTokenId() != 2) {
                    break;
                }
            }
        }
        return best;
    }

    /** [L, L] additive causal mask: 0 on and below the diagonal, -inf above, in the compute dtype. */
    private NDArray causalBias(NDManager scope, int len) {
        float[] mask = new float[len * len];
        for (int i = 0; i < len; i++) {
            for (int j = i + 1; j < len; j++) {
                mask[i * len + j] = Float.NEGATIVE_INFINITY;
            }
        }
        NDArray bias = scope.create(mask, new Shape(len, len)).toDevice(tokenEmbedding.getDevice(), false);
        return dtype == ComputeDType.FLOAT32 ? bias : kernels.cast(bias, dtype);
    }

    @Override
    public void close() {
        weightsManager.close();
    }
}

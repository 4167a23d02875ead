package dev.montage.plugins.clip;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.Cancellation;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.host.Scopes;
import dev.montage.nn.LayerNorm;
import dev.montage.nn.Linear;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A CLIP vision tower as transformers lays it out ({@code CLIPVisionModelWithProjection}, weights under
 * {@code vision_model.}): patch convolution without bias, class token and learned position embeddings, the
 * pre-encoder layer norm ({@code pre_layrnorm}, spelled as in the checkpoints), pre-LayerNorm encoder layers.
 *
 * <p>MS-Diffusion (like IP-Adapter Plus) feeds its resampler the penultimate hidden states: the output of the
 * second-to-last encoder layer, every token including the class token, without {@code post_layernorm}. The plain
 * IP-Adapter projects the image embedding instead: the last layer's class token after {@code post_layernorm}, times
 * {@code visual_projection}.
 *
 * <p>Owns its weights (in its own manager); {@link #close()} releases them.
 */
final class ClipVisionModel implements AutoCloseable {
    private final ClipConfig config;
    private final NDManager weightsManager;
    private final NDArray patchWeight;
    private final NDArray classToken;
    private final NDArray positionEmbedding;
    private final LayerNorm preLayerNorm;
    private final List<ClipEncoderLayer> layers = new ArrayList<>();
    private final LayerNorm postLayerNorm;
    private final Linear visualProjection;
    private final Kernels kernels;

    ClipVisionModel(ModelFolder folder, NDManager parent, Kernels kernels) {
        this.config = ClipConfig.vision(folder.config());
        this.kernels = kernels;
        requireLayerCount(folder.weights().prefixed("vision_model"), config.layers());
        int d = config.hiddenSize();
        int p = config.patchSize();
        this.weightsManager = parent.newSubManager();
        try {
            Weights w = Weights.loading(folder.weights(), weightsManager, kernels).prefixed("vision_model");
            patchWeight = w.get("embeddings.patch_embedding.weight", d, config.numChannels(), p, p);
            classToken = w.get("embeddings.class_embedding", d).reshape(1, 1, d);
            positionEmbedding = w.get("embeddings.position_embedding.weight", config.maxPositions(), d);
            preLayerNorm = LayerNorm.load(w, "pre_layrnorm", d, config.layerNormEps());
            for (int i = 0; i < config.layers(); i++) {
                layers.add(new ClipEncoderLayer(w.prefixed("encoder.layers." + i), config));
            }
            postLayerNorm = LayerNorm.load(w, "post_layernorm", d, config.layerNormEps());
            visualProjection = Linear.withoutBias(Weights.loading(folder.weights(), weightsManager, kernels),
                    "visual_projection", d, config.projectionDim());
        } catch (RuntimeException e) {
            weightsManager.close();
            throw e;
        }
    }

    ClipConfig config() {
        return config;
    }

    /** Where the weights live. */
    Device device() {
        return patchWeight.getDevice();
    }

    /**
     * The penultimate hidden states ({@code hidden_states[-2]}).
     *
     * @param pixels [B, C, S, S] normalised pixels in the compute dtype, on the weights' device
     * @return [B, T, D] with T = (S / patch)^2 + 1, attached to the manager of {@code pixels}
     */
    NDArray penultimate(NDArray pixels) {
        return hiddenStates(pixels, layers.size() - 1);
    }

    /**
     * The image embedding ({@code image_embeds}): the last layer's class token, {@code post_layernorm}, the visual
     * projection.
     *
     * @param pixels as for {@link #penultimate(NDArray)}
     * @return [B, projection_dim], attached to the manager of {@code pixels}
     */
    NDArray imageEmbeds(NDArray pixels) {
        NDManager caller = pixels.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray last = hiddenStates(Scopes.borrow(pixels, scope), layers.size());
            NDArray classTokens = last.get(":, 0, :");
            NDArray out = visualProjection.forward(postLayerNorm.forward(classTokens));
            out.attach(caller);
            return out;
        }
    }

    /** The hidden states after the first {@code count} encoder layers. */
    private NDArray hiddenStates(NDArray pixels, int count) {
        Shape shape = pixels.getShape();
        int s = config.imageSize();
        if (shape.dimension() != 4 || shape.get(1) != config.numChannels() || shape.get(2) != s || shape.get(3) != s) {
            throw new IllegalArgumentException("the vision tower takes [B, " + config.numChannels() + ", " + s + ", "
                    + s + "] pixels, got " + shape);
        }
        long b = shape.get(0);
        int d = config.hiddenSize();
        NDManager caller = pixels.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray input = Scopes.borrow(pixels, scope);
            NDArray patches = kernels.conv2d(input, patchWeight, null, config.patchSize(), 0)
                    .reshape(b, d, -1)
                    .transpose(0, 2, 1);
            // DJL attaches the repeat to the weight's manager: move it into this call's scope
            NDArray classTokens = classToken.repeat(0, b);
            classTokens.attach(scope);
            NDArray x = NDArrays.concat(new NDList(classTokens, patches), 1).add(positionEmbedding);
            x = preLayerNorm.forward(x);
            for (ClipEncoderLayer layer : layers.subList(0, count)) {
                Cancellation.checkpoint();
                NDArray next = layer.forward(x, null);
                // at CLIP-G size each layer's output is 1.7 MB per picture: keep only the latest
                x.close();
                x = next;
            }
            x.attach(caller);
            return x;
        }
    }

    /**
     * The tensors a {@code CLIPVisionModelWithProjection} checkpoint of this configuration holds, by name and
     * shape (including those this class does not load).
     */
    static Map<String, long[]> weightShapes(ClipConfig c) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        long d = c.hiddenSize();
        long p = c.patchSize();
        shapes.put("vision_model.embeddings.patch_embedding.weight", new long[] {d, c.numChannels(), p, p});
        shapes.put("vision_model.embeddings.class_embedding", new long[] {d});
        shapes.put("vision_model.embeddings.position_embedding.weight", new long[] {c.maxPositions(), d});
        shapes.put("vision_model.pre_layrnorm.weight", new long[] {d});
        shapes.put("vision_model.pre_layrnorm.bias", new long[] {d});
        ClipEncoderLayer.weightShapes("vision_model.encoder.layers", c, shapes);
        shapes.put("vision_model.post_layernorm.weight", new long[] {d});
        shapes.put("vision_model.post_layernorm.bias", new long[] {d});
        shapes.put("visual_projection.weight", new long[] {c.projectionDim(), d});
        return shapes;
    }

    /** "Penultimate" only means something when the checkpoint has exactly the configured layers. */
    private static void requireLayerCount(ModelWeights w, int expected) {
        int found = 0;
        for (String name : w.names()) {
            if (name.startsWith("encoder.layers.")) {
                int end = name.indexOf('.', "encoder.layers.".length());
                found = Math.max(found, Integer.parseInt(name.substring("encoder.layers.".length(), end)) + 1);
            }
        }
        if (found != expected) {
            throw new IllegalArgumentException(w.source() + ": num_hidden_layers is " + expected
                    + " but the checkpoint has " + found + " encoder layers under vision_model.encoder.layers");
        }
    }

    @Override
    public void close() {
        weightsManager.close();
    }
}

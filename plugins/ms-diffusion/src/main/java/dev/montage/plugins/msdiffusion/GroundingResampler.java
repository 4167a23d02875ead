package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.montage.api.Cancellation;
import dev.montage.api.host.Scopes;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import dev.montage.nn.LayerNorm;
import dev.montage.nn.Linear;
import dev.montage.nn.PerceiverAttention;
import dev.montage.nn.PerceiverFeedForward;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MS-Diffusion's {@code Resampler} in {@code grounding} mode (the {@code image_proj} weights of
 * {@code ms_adapter.bin}): a Perceiver resampler whose queries are derived from each subject's phrase embedding and
 * Fourier-embedded box ({@code latent_proj}, {@code latent_norm}), or are the learned {@code grounding_latents}
 * where a subject's grounding is dropped. The queries pass {@code depth} layers of attention over
 * [image tokens ; queries] and a feed-forward, each with a residual, then {@code attention_norm},
 * {@code proj_out} and {@code norm_out}. Subjects are independent rows of one batch.
 *
 * <p>Owns its weights (in its own manager); {@link #close()} releases them.
 */
final class GroundingResampler implements AutoCloseable {

    /**
     * Receives intermediate results under the names the golden fixtures use after {@code resampler.}
     * ({@code fourier_embeds}, {@code latent_proj_out}, {@code latent_norm_out}, {@code latents_in},
     * {@code proj_in_out}, {@code layer<i>_out}, {@code proj_out_out}). The arrays are closed when the call
     * returns: read them inside the callback.
     */
    @FunctionalInterface
    interface Stages {
        Stages NONE = (name, value) -> { };

        void stage(String name, NDArray value);
    }

    private final ResamplerConfig config;
    private final NDManager weightsManager;
    private final Kernels kernels;
    private final ComputeDType dtype;
    private final FourierEmbedder fourier;
    private final NDArray groundingLatents;
    private final Linear latentProjIn;
    private final Linear latentProjOut;
    private final LayerNorm latentNorm;
    private final Linear projIn;
    private final List<PerceiverAttention> attentions = new ArrayList<>();
    private final List<PerceiverFeedForward> feedForwards = new ArrayList<>();
    private final LayerNorm attentionNorm;
    private final Linear projOut;
    private final LayerNorm normOut;

    /**
     * @param w the resampler's state dict ({@code image_proj} of {@code ms_adapter.bin})
     * @throws IllegalArgumentException when the tensors do not match the configuration, naming the tensors and
     *     the configuration
     */
    GroundingResampler(ModelWeights w, ResamplerConfig config, NDManager parent, Kernels kernels,
            ComputeDType dtype) {
        this.config = config;
        this.kernels = kernels;
        this.dtype = dtype;
        this.fourier = new FourierEmbedder(config.fourierFreqs());
        this.weightsManager = parent.newSubManager();
        try {
            w.requireExactly(expectedShapes(config).keySet());
            Weights nw = Weights.loading(w, weightsManager, kernels);
            int dim = config.dim();
            int grounding = config.groundingEmbeddingDim();
            groundingLatents = nw.get("grounding_latents", 1, config.numQueries(), dim);
            latentProjIn = Linear.withBias(nw, "latent_proj.0", grounding, 2 * grounding);
            latentProjOut = Linear.withBias(nw, "latent_proj.2", 2 * grounding,
                    config.numQueries() * dim);
            latentNorm = LayerNorm.load(nw, "latent_norm", dim, LayerNorm.DEFAULT_EPS);
            projIn = Linear.withBias(nw, "proj_in", config.embeddingDim(), dim);
            for (int i = 0; i < config.depth(); i++) {
                attentions.add(new PerceiverAttention(nw.prefixed("layers." + i + ".0"), dim, config.heads(),
                        config.dimHead(), kernels, dtype));
                feedForwards.add(new PerceiverFeedForward(nw.prefixed("layers." + i + ".1"), dim, config.ffInnerDim()));
            }
            attentionNorm = LayerNorm.load(nw, "attention_norm", dim, LayerNorm.DEFAULT_EPS);
            projOut = Linear.withBias(nw, "proj_out", dim, config.outputDim());
            normOut = LayerNorm.load(nw, "norm_out", config.outputDim(), LayerNorm.DEFAULT_EPS);
        } catch (IllegalArgumentException e) {
            weightsManager.close();
            throw new IllegalArgumentException(e.getMessage() + " (resampler configuration: " + config.source()
                    + ")", e);
        } catch (RuntimeException e) {
            weightsManager.close();
            throw e;
        }
    }

    /** Every tensor of the state dict a {@code Resampler} with this configuration has, with its shape. */
    static Map<String, long[]> expectedShapes(ResamplerConfig c) {
        long dim = c.dim();
        long g = c.groundingEmbeddingDim();
        long inner = c.innerDim();
        long ff = c.ffInnerDim();
        long out = c.outputDim();
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("grounding_latents", new long[] {1, c.numQueries(), dim});
        linear(s, "latent_proj.0", 2 * g, g, true);
        linear(s, "latent_proj.2", (long) c.numQueries() * dim, 2 * g, true);
        norm(s, "latent_norm", dim);
        linear(s, "proj_in", dim, c.embeddingDim(), true);
        for (int i = 0; i < c.depth(); i++) {
            String attn = "layers." + i + ".0.";
            String feed = "layers." + i + ".1.";
            norm(s, attn + "norm1", dim);
            norm(s, attn + "norm2", dim);
            linear(s, attn + "to_q", inner, dim, false);
            linear(s, attn + "to_kv", 2 * inner, dim, false);
            linear(s, attn + "to_out", dim, inner, false);
            norm(s, feed + "0", dim);
            linear(s, feed + "1", ff, dim, false);
            linear(s, feed + "3", dim, ff, false);
        }
        norm(s, "attention_norm", dim);
        linear(s, "proj_out", out, dim, true);
        norm(s, "norm_out", out);
        return s;
    }

    private static void linear(Map<String, long[]> s, String name, long out, long in, boolean bias) {
        s.put(name + ".weight", new long[] {out, in});
        if (bias) {
            s.put(name + ".bias", new long[] {out});
        }
    }

    private static void norm(Map<String, long[]> s, String name, long dim) {
        s.put(name + ".weight", new long[] {dim});
        s.put(name + ".bias", new long[] {dim});
    }

    ResamplerConfig config() {
        return config;
    }

    /**
     * Resamples N subjects at once.
     *
     * @param manager       receives the result
     * @param imageEmbeds   [N, T, embedding_dim] image encoder tokens
     * @param phraseEmbeds  [N, phrase_embeddings_dim]
     * @param boxes         [N, 4] x0, y0, x1, y1 in 0..1
     * @param dropGrounding N flags: use {@code grounding_latents} as that subject's queries
     * @param stages        observer of intermediate results ({@link Stages#NONE} in production)
     * @return [N, num_queries, output_dim] in the compute dtype
     * @throws IllegalArgumentException naming the argument whose shape does not fit the configuration
     */
    NDArray forward(NDManager manager, NDArray imageEmbeds, NDArray phraseEmbeds, NDArray boxes,
            boolean[] dropGrounding, Stages stages) {
        int n = checkInputs(imageEmbeds, phraseEmbeds, boxes, dropGrounding);
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = computeDType(Scopes.borrow(imageEmbeds, scope));
            NDArray phrases = computeDType(Scopes.borrow(phraseEmbeds, scope));
            NDArray boxes32 = Scopes.borrow(boxes, scope);
            if (kernels.dtypeOf(boxes32) != ComputeDType.FLOAT32) {
                boxes32 = kernels.cast(boxes32, ComputeDType.FLOAT32);
            }

            NDArray fourierEmbeds = fourier.embed(boxes32);
            stages.stage("fourier_embeds", fourierEmbeds);
            NDArray groundingEmbeds = phrases.concat(computeDType(fourierEmbeds), -1);
            NDArray hidden = kernels.gelu(latentProjIn.forward(groundingEmbeds), false);
            NDArray projected = latentProjOut.forward(hidden);
            stages.stage("latent_proj_out", projected);
            NDArray latents = latentNorm.forward(projected.reshape(n, config.numQueries(), config.dim()));
            stages.stage("latent_norm_out", latents);
            latents = dropGrounding(latents, dropGrounding, scope);
            stages.stage("latents_in", latents);

            x = projIn.forward(x);
            stages.stage("proj_in_out", x);
            for (int i = 0; i < config.depth(); i++) {
                Cancellation.checkpoint();
                latents = attentions.get(i).forward(x, latents).add(latents);
                latents = feedForwards.get(i).forward(latents).add(latents);
                stages.stage("layer" + i + "_out", latents);
            }
            NDArray out = projOut.forward(attentionNorm.forward(latents));
            stages.stage("proj_out_out", out);
            out = normOut.forward(out);
            out.attach(manager);
            return out;
        }
    }

    /** The learned queries replace the grounding queries of the subjects whose flag is set. */
    private NDArray dropGrounding(NDArray latents, boolean[] drop, NDManager scope) {
        boolean any = false;
        for (boolean d : drop) {
            any |= d;
        }
        if (!any) {
            return latents;
        }
        NDArray learned = groundingLatents.get(scope, 0);
        NDList rows = new NDList(drop.length);
        for (int i = 0; i < drop.length; i++) {
            rows.add(drop[i] ? learned : latents.get(i));
        }
        return NDArrays.stack(rows);
    }

    /** Inputs in another dtype would silently promote the whole computation (or fail), so they are converted. */
    private NDArray computeDType(NDArray x) {
        return kernels.dtypeOf(x) == dtype ? x : kernels.cast(x, dtype);
    }

    private int checkInputs(NDArray imageEmbeds, NDArray phraseEmbeds, NDArray boxes, boolean[] drop) {
        long[] image = imageEmbeds.getShape().getShape();
        if (image.length != 3 || image[0] < 1 || image[2] != config.embeddingDim()) {
            throw new IllegalArgumentException("image embeddings must be [N, tokens, " + config.embeddingDim()
                    + "] (embedding_dim of " + config.source() + "), got " + Arrays.toString(image));
        }
        int n = (int) image[0];
        long[] phrases = phraseEmbeds.getShape().getShape();
        if (!Arrays.equals(phrases, new long[] {n, config.phraseEmbeddingsDim()})) {
            throw new IllegalArgumentException("phrase embeddings must be [" + n + ", "
                    + config.phraseEmbeddingsDim() + "] (one per subject; phrase_embeddings_dim of " + config.source()
                    + "), got " + Arrays.toString(phrases));
        }
        long[] box = boxes.getShape().getShape();
        if (!Arrays.equals(box, new long[] {n, 4})) {
            throw new IllegalArgumentException("boxes must be [" + n + ", 4] (x0, y0, x1, y1 per subject), got "
                    + Arrays.toString(box));
        }
        if (drop == null || drop.length != n) {
            throw new IllegalArgumentException("dropGrounding needs one flag per subject (" + n + "), got "
                    + (drop == null ? "null" : drop.length));
        }
        return n;
    }

    @Override
    public void close() {
        weightsManager.close();
    }
}

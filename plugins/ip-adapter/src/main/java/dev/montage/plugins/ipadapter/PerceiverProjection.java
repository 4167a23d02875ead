package dev.montage.plugins.ipadapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.nn.LayerNorm;
import dev.montage.nn.Linear;
import dev.montage.nn.PerceiverAttention;
import dev.montage.nn.PerceiverFeedForward;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * IP-Adapter Plus' image projection ({@code ip_adapter/resampler.py} {@code Resampler}): learned latent queries
 * attend to the projected penultimate hidden states of the image encoder through Perceiver layers, then
 * {@code norm_out(proj_out(latents))}. Its unconditional tokens are those of a blank picture's hidden states, as
 * {@code IPAdapterPlus.get_image_embeds} makes them. The sizes come from the weights ({@code latents} [1, Q, dim],
 * {@code proj_in.weight} [dim, E], {@code proj_out.weight} [width, dim], the layers), except the head count, which
 * the weights cannot tell: it is given, or the attention width / 64 as in every published checkpoint. Owns its
 * weights.
 */
final class PerceiverProjection implements ImageTokens {
    /** The head width of the published checkpoints. */
    static final int DIM_HEAD = 64;
    private static final List<String> ROOTS = List.of("latents", "proj_in", "layers", "proj_out", "norm_out");

    private final NDManager manager;
    private final NDArray latents;
    private final Linear projIn;
    private final List<PerceiverAttention> attentions = new ArrayList<>();
    private final List<PerceiverFeedForward> feedForwards = new ArrayList<>();
    private final Linear projOut;
    private final LayerNorm normOut;
    private final Sizes sizes;

    /**
     * @param heads the attention's heads, or 0 for its width / {@value #DIM_HEAD}
     * @throws IllegalArgumentException naming the checkpoint when it holds another resampler variant (positional
     *     embeddings, mean-pooled latents) or sizes that do not fit together
     */
    PerceiverProjection(ModelWeights weights, int heads, NDManager parent, Kernels kernels, ComputeDType dtype) {
        for (String name : weights.names()) {
            String root = name.contains(".") ? name.substring(0, name.indexOf('.')) : name;
            if (!ROOTS.contains(root)) {
                throw new IllegalArgumentException(weights.source() + " holds '" + name + "': a resampler variant "
                        + "this adapter does not read (IP-Adapter Plus' resampler holds only " + ROOTS + ")");
            }
        }
        long[] latentShape = weights.shape("latents");
        long[] projIn = weights.shape("proj_in.weight");
        long[] projOut = weights.shape("proj_out.weight");
        long[] toQ = weights.shape("layers.0.0.to_q.weight");
        long[] ff = weights.shape("layers.0.1.1.weight");
        int dim = Math.toIntExact(projIn[0]);
        if (latentShape.length != 3 || latentShape[2] != dim || projOut[1] != dim) {
            throw new IllegalArgumentException(weights.source() + ": latents " + Arrays.toString(latentShape)
                    + ", proj_in.weight " + Arrays.toString(projIn) + " and proj_out.weight " + Arrays.toString(projOut)
                    + " do not share one width");
        }
        int inner = Math.toIntExact(toQ[0]);
        int headCount = heads > 0 ? heads : inner / DIM_HEAD;
        if (headCount <= 0 || inner % headCount != 0) {
            throw new IllegalArgumentException(weights.source() + ": the attention width " + inner
                    + " does not split into " + headCount + " heads; set the 'heads' option");
        }
        int depth = 0;
        while (weights.contains("layers." + depth + ".0.to_q.weight")) {
            depth++;
        }
        int tokens = Math.toIntExact(latentShape[1]);
        int width = Math.toIntExact(projOut[0]);
        this.sizes = new Sizes(tokens, width, Math.toIntExact(projIn[1]));
        this.manager = parent.newSubManager();
        try {
            Weights w = Weights.loading(weights, manager, kernels);
            latents = w.get("latents", 1, tokens, dim);
            this.projIn = Linear.withBias(w, "proj_in", sizes.embeddingDim(), dim);
            for (int i = 0; i < depth; i++) {
                attentions.add(new PerceiverAttention(w.prefixed("layers." + i + ".0"), dim, headCount,
                        inner / headCount, kernels, dtype));
                feedForwards.add(new PerceiverFeedForward(w.prefixed("layers." + i + ".1"), dim,
                        Math.toIntExact(ff[0])));
            }
            this.projOut = Linear.withBias(w, "proj_out", dim, width);
            normOut = LayerNorm.load(w, "norm_out", width, LayerNorm.DEFAULT_EPS);
            w.requireAllUsed(ROOTS.toArray(String[]::new));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    @Override
    public Sizes sizes() {
        return sizes;
    }

    @Override
    public ImageEncoder.Features features() {
        return ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES;
    }

    @Override
    public SubjectResampler.Unconditional unconditional() {
        return SubjectResampler.Unconditional.BLANK_PICTURE_FEATURES;
    }

    /**
     * @param embeds [N, T, E] penultimate hidden states in the compute dtype
     * @return [N, tokens, width], attached to the manager of {@code embeds}
     */
    @Override
    public NDArray forward(NDArray embeds) {
        NDManager caller = embeds.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray x = projIn.forward(Scopes.borrow(embeds, scope));
            // DJL attaches the repeat to the weight's manager: move it into this call's scope
            NDArray queries = latents.repeat(0, embeds.getShape().get(0));
            queries.attach(scope);
            for (int i = 0; i < attentions.size(); i++) {
                queries = attentions.get(i).forward(x, queries).add(queries);
                queries = feedForwards.get(i).forward(queries).add(queries);
            }
            NDArray out = normOut.forward(projOut.forward(queries));
            out.attach(caller);
            return out;
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}

package dev.montage.plugins.ipadapter;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
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
final class PerceiverProjection extends ImageTokens {
    /** The head width of the published checkpoints. */
    static final int DIM_HEAD = 64;
    private static final List<String> ROOTS = List.of("latents", "proj_in", "layers", "proj_out", "norm_out");

    private final NDArray latents;
    private final Linear projIn;
    private final List<PerceiverAttention> attentions = new ArrayList<>();
    private final List<PerceiverFeedForward> feedForwards = new ArrayList<>();
    private final Linear projOut;
    private final LayerNorm normOut;

    /**
     * @param heads the attention's heads, or 0 for its width / {@value #DIM_HEAD}
     * @throws IllegalArgumentException naming the checkpoint when it holds another resampler variant (positional
     *     embeddings, mean-pooled latents) or sizes that do not fit together
     */
    PerceiverProjection(ModelWeights weights, int heads, NDManager parent, Kernels kernels, ComputeDType dtype) {
        super(sizesOf(weights), ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES,
                SubjectResampler.Unconditional.BLANK_PICTURE_FEATURES, parent);
        try {
            int dim = Math.toIntExact(weights.shape("proj_in.weight")[0]);
            int inner = Math.toIntExact(weights.shape("layers.0.0.to_q.weight")[0]);
            int headCount = heads > 0 ? heads : inner / DIM_HEAD;
            if (headCount <= 0 || inner % headCount != 0) {
                throw new IllegalArgumentException(weights.source() + ": the attention width " + inner
                        + " does not split into " + headCount + " heads; set the 'heads' option");
            }
            int feedForward = Math.toIntExact(weights.shape("layers.0.1.1.weight")[0]);
            Weights w = Weights.loading(weights, weights(), kernels);
            latents = w.get("latents", 1, sizes().tokens(), dim);
            this.projIn = Linear.withBias(w, "proj_in", sizes().embeddingDim(), dim);
            for (int i = 0; weights.contains("layers." + i + ".0.to_q.weight"); i++) {
                attentions.add(new PerceiverAttention(w.prefixed("layers." + i + ".0"), dim, headCount,
                        inner / headCount, kernels, dtype));
                feedForwards.add(new PerceiverFeedForward(w.prefixed("layers." + i + ".1"), dim, feedForward));
            }
            this.projOut = Linear.withBias(w, "proj_out", dim, sizes().width());
            normOut = LayerNorm.load(w, "norm_out", sizes().width(), LayerNorm.DEFAULT_EPS);
            w.requireAllUsed(ROOTS.toArray(String[]::new));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The sizes, after checking that the weights are this resampler's and share one width. */
    private static Sizes sizesOf(ModelWeights weights) {
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
        if (latentShape.length != 3 || latentShape[2] != projIn[0] || projOut[1] != projIn[0]) {
            throw new IllegalArgumentException(weights.source() + ": latents " + Arrays.toString(latentShape)
                    + ", proj_in.weight " + Arrays.toString(projIn) + " and proj_out.weight " + Arrays.toString(projOut)
                    + " do not share one width");
        }
        return new Sizes(Math.toIntExact(latentShape[1]), Math.toIntExact(projOut[0]), Math.toIntExact(projIn[1]));
    }

    /** @param embeds [N, T, E] penultimate hidden states in the compute dtype */
    @Override
    NDArray project(NDArray embeds, NDManager scope) {
        NDArray x = projIn.forward(embeds);
        // DJL attaches the repeat to the weight's manager: move it into this call's scope
        NDArray queries = latents.repeat(0, embeds.getShape().get(0));
        queries.attach(scope);
        for (int i = 0; i < attentions.size(); i++) {
            queries = attentions.get(i).forward(x, queries).add(queries);
            queries = feedForwards.get(i).forward(queries).add(queries);
        }
        return normOut.forward(projOut.forward(queries));
    }
}

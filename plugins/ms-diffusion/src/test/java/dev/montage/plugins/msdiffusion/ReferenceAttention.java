package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import dev.montage.api.spi.AttentionLayer;

/**
 * MS-Diffusion's {@code MaskedIPAttnProcessor2_0} written out the way the official code computes it, for
 * comparison with the fused processor: explicit float32 probabilities over [B·heads, L, K], the layout bias built
 * position by position, background rows of the image probabilities set to zero, subject columns multiplied by their
 * scales. Test code only; written independently of {@link LayoutMask}.
 */
final class ReferenceAttention {
    private ReferenceAttention() {
    }

    /**
     * @param kIp [C, Cc] the layer's {@code to_k_ip.weight}
     * @param vIp [C, Cc] the layer's {@code to_v_ip.weight}
     */
    static NDArray forward(AttentionLayer layer, NDArray kIp, NDArray vIp, NDArray hidden, NDArray context,
            int gridHeight, int gridWidth, TestLayout layout) {
        return forward(layer, kIp, vIp, hidden, context, gridHeight, gridWidth, layout,
                insideBoxes(layout, gridHeight, gridWidth));
    }

    /** Which positions each subject covers: {@code prepare_attention_mask_qk} on a rectangular grid. */
    static boolean[][][] insideBoxes(TestLayout layout, int gridHeight, int gridWidth) {
        float[][][] all = layout.boxes();
        boolean[][][] inside = new boolean[all.length][][];
        for (int b = 0; b < all.length; b++) {
            float[][] boxes = all[b];
            inside[b] = new boolean[boxes.length][gridHeight * gridWidth];
            for (int j = 0; j < boxes.length; j++) {
                for (int r = 0; r < gridHeight; r++) {
                    for (int c = 0; c < gridWidth; c++) {
                        inside[b][j][r * gridWidth + c] = c >= Math.floor(boxes[j][0] * gridWidth)
                                && c < Math.ceil(boxes[j][2] * gridWidth) && r >= Math.floor(boxes[j][1] * gridHeight)
                                && r < Math.ceil(boxes[j][3] * gridHeight);
                    }
                }
            }
        }
        return inside;
    }

    /**
     * The image attention under given masks (the boxes' or auto layout's).
     *
     * @param inside [row][subject][position] whether the subject covers the position
     */
    static NDArray forward(AttentionLayer layer, NDArray kIp, NDArray vIp, NDArray hidden, NDArray context,
            int gridHeight, int gridWidth, TestLayout layout, boolean[][][] inside) {
        NDManager m = hidden.getManager();
        int batch = (int) hidden.getShape().get(0);
        int positions = gridHeight * gridWidth;
        int heads = layer.heads();
        int k = layout.imageTokens();
        int t = layout.textTokens();
        NDArray q = headToBatch(layer.query(hidden), heads);
        NDArray text = context.get(new NDIndex(":, :{}", t));
        NDArray image = context.get(new NDIndex(":, {}:", t));
        NDArray textOut = batchToHead(attend(q, headToBatch(layer.key(text), heads),
                headToBatch(layer.value(text), heads), null), batch, heads);

        float[] bias = new float[batch * heads * positions * k];
        float[] keep = new float[batch * heads * positions];
        float[] columns = new float[k];
        for (int b = 0; b < batch; b++) {
            for (int l = 0; l < positions; l++) {
                boolean[] in = new boolean[inside[b].length];
                boolean any = false;
                for (int j = 0; j < in.length; j++) {
                    in[j] = inside[b][j][l];
                    any |= in[j];
                }
                for (int h = 0; h < heads; h++) {
                    int row = (b * heads + h) * positions + l;
                    keep[row] = any ? 1 : 0;
                    for (int s = 0; s < k; s++) {
                        boolean dummy = s < layout.dummyTokens();
                        boolean allowed = dummy ? !any : in[(s - layout.dummyTokens()) / layout.tokensPerSubject()];
                        bias[row * k + s] = allowed ? 0 : -10000f;
                    }
                }
            }
        }
        for (int s = 0; s < k; s++) {
            columns[s] = s < layout.dummyTokens() || layout.subjectScales().isEmpty() ? 1f
                    : (float) layout.subjectScales().get()[(s - layout.dummyTokens()) / layout.tokensPerSubject()];
        }
        NDArray probs = probabilities(q, headToBatch(Linear.linear(image, kIp).singletonOrThrow(), heads),
                m.create(bias, new Shape(batch * heads, positions, k)));
        probs = probs.mul(m.create(keep, new Shape(batch * heads, positions, 1)))
                .mul(m.create(columns, new Shape(1, 1, k)));
        NDArray ipOut = batchToHead(probs.matMul(headToBatch(Linear.linear(image, vIp).singletonOrThrow(), heads)),
                batch, heads);
        float scale = layout.subjectScales().isPresent() ? 1f : (float) layout.scale();
        return layer.output(textOut.add(ipOut.mul(scale)));
    }

    private static NDArray attend(NDArray q, NDArray k, NDArray v, NDArray bias) {
        return probabilities(q, k, bias).matMul(v);
    }

    /** The text attention probabilities [B*heads, L, textTokens], as {@code get_attention_scores} gives them. */
    static NDArray textProbabilities(AttentionLayer layer, NDArray hidden, NDArray context, int textTokens) {
        NDArray text = context.get(new NDIndex(":, :{}", textTokens));
        return probabilities(headToBatch(layer.query(hidden), layer.heads()),
                headToBatch(layer.key(text), layer.heads()), null);
    }

    private static NDArray probabilities(NDArray q, NDArray k, NDArray bias) {
        NDArray scores = q.matMul(k.transpose(0, 2, 1)).mul((float) (1 / Math.sqrt(q.getShape().get(2))));
        return (bias == null ? scores : scores.add(bias)).softmax(-1);
    }

    /** diffusers' {@code head_to_batch_dim}: [B, L, heads*d] to [B*heads, L, d]. */
    private static NDArray headToBatch(NDArray x, int heads) {
        long[] s = x.getShape().getShape();
        return x.reshape(s[0], s[1], heads, s[2] / heads).transpose(0, 2, 1, 3).reshape(s[0] * heads, s[1],
                s[2] / heads);
    }

    /** diffusers' {@code batch_to_head_dim}: [B*heads, L, d] to [B, L, heads*d]. */
    private static NDArray batchToHead(NDArray x, int batch, int heads) {
        long[] s = x.getShape().getShape();
        return x.reshape(batch, heads, s[1], s[2]).transpose(0, 2, 1, 3).reshape(batch, s[1], heads * s[2]);
    }
}

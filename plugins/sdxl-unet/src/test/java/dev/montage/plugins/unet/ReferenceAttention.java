package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import dev.montage.api.SubjectLayout;
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
            int gridHeight, int gridWidth, SubjectLayout layout) {
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
            float[][] boxes = layout.boxes()[b];
            for (int r = 0; r < gridHeight; r++) {
                for (int c = 0; c < gridWidth; c++) {
                    int l = r * gridWidth + c;
                    boolean[] in = new boolean[boxes.length];
                    boolean any = false;
                    for (int j = 0; j < boxes.length; j++) {
                        in[j] = c >= Math.floor(boxes[j][0] * gridWidth) && c < Math.ceil(boxes[j][2] * gridWidth)
                                && r >= Math.floor(boxes[j][1] * gridHeight) && r < Math.ceil(boxes[j][3] * gridHeight);
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

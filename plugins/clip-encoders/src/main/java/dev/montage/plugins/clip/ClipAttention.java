package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;

/** {@code self_attn}: multi-head self-attention with biased q/k/v/out projections. */
final class ClipAttention {
    private final int heads;
    private final NDArray qWeight;
    private final NDArray qBias;
    private final NDArray kWeight;
    private final NDArray kBias;
    private final NDArray vWeight;
    private final NDArray vBias;
    private final NDArray outWeight;
    private final NDArray outBias;
    private final Kernels kernels;

    ClipAttention(ModelWeights w, NDManager manager, int hidden, int heads, Kernels kernels) {
        this.heads = heads;
        this.kernels = kernels;
        qWeight = w.get("q_proj.weight", manager, hidden, hidden);
        qBias = w.get("q_proj.bias", manager, hidden);
        kWeight = w.get("k_proj.weight", manager, hidden, hidden);
        kBias = w.get("k_proj.bias", manager, hidden);
        vWeight = w.get("v_proj.weight", manager, hidden, hidden);
        vBias = w.get("v_proj.bias", manager, hidden);
        outWeight = w.get("out_proj.weight", manager, hidden, hidden);
        outBias = w.get("out_proj.bias", manager, hidden);
    }

    /**
     * @param x    [B, L, D]
     * @param bias additive attention bias broadcastable to [B, heads, L, L], or null
     * @return [B, L, D]
     */
    NDArray forward(NDArray x, NDArray bias) {
        long b = x.getShape().get(0);
        long len = x.getShape().get(1);
        long dim = x.getShape().get(2);
        try (NDManager scope = NDManager.subManagerOf(x)) {
            // DJL puts an op's result into its input's manager: moving x here keeps every intermediate in scope
            scope.tempAttachAll(x);
            NDArray q = splitHeads(kernels.linear(x, qWeight, qBias), b, len, dim);
            NDArray k = splitHeads(kernels.linear(x, kWeight, kBias), b, len, dim);
            NDArray v = splitHeads(kernels.linear(x, vWeight, vBias), b, len, dim);
            NDArray attended = kernels.scaledDotProductAttention(q, k, v, bias)
                    .transpose(0, 2, 1, 3)
                    .reshape(b, len, dim);
            return scope.ret(kernels.linear(attended, outWeight, outBias));
        }
    }

    private NDArray splitHeads(NDArray t, long b, long len, long dim) {
        return t.reshape(b, len, heads, dim / heads).transpose(0, 2, 1, 3);
    }
}

package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.Heads;
import dev.montage.nn.Linear;
import dev.montage.nn.Weights;

/** {@code self_attn}: multi-head self-attention with biased q/k/v/out projections. */
final class ClipAttention {
    private final int heads;
    private final Linear qProj;
    private final Linear kProj;
    private final Linear vProj;
    private final Linear outProj;
    private final Kernels kernels;

    ClipAttention(Weights w, int hidden, int heads) {
        this.heads = heads;
        this.kernels = w.kernels();
        qProj = Linear.withBias(w, "q_proj", hidden, hidden);
        kProj = Linear.withBias(w, "k_proj", hidden, hidden);
        vProj = Linear.withBias(w, "v_proj", hidden, hidden);
        outProj = Linear.withBias(w, "out_proj", hidden, hidden);
    }

    /**
     * @param x    [B, L, D]
     * @param bias additive attention bias broadcastable to [B, heads, L, L], or null
     * @return [B, L, D], attached to the manager of {@code x}
     */
    NDArray forward(NDArray x, NDArray bias) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray input = Scopes.borrow(x, scope);
            NDArray q = Heads.split(qProj.forward(input), heads);
            NDArray k = Heads.split(kProj.forward(input), heads);
            NDArray v = Heads.split(vProj.forward(input), heads);
            NDArray out = outProj.forward(Heads.merge(kernels.scaledDotProductAttention(q, k, v, bias)));
            out.attach(caller);
            return out;
        }
    }
}

package dev.montage.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Scopes;
import ai.djl.ndarray.types.DataType;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;

/**
 * The Perceiver resampler's attention of IP-Adapter Plus and MS-Diffusion ({@code layers.N.0}): the latent queries
 * attend to the image tokens and to themselves. Image tokens and latents are layer-normed separately
 * ({@code norm1}, {@code norm2}); queries come from the latents, keys and values from {@code [image tokens ; latents]};
 * no biases.
 */
public final class PerceiverAttention {
    private final int heads;
    /** Applied to q and to k (rather than sqrt(d) once to the scores), as the reference does for fp16 range. */
    private final float qkScale;
    private final LayerNorm norm1;
    private final LayerNorm norm2;
    private final Linear toQ;
    private final Linear toKv;
    private final Linear toOut;
    private final Kernels kernels;
    private final ComputeDType dtype;

    /**
     * @param dim     width of the latents and of the projected image tokens
     * @param heads   number of heads
     * @param dimHead width of a head
     */
    public PerceiverAttention(Weights w, int dim, int heads, int dimHead, Kernels kernels, ComputeDType dtype) {
        this.heads = heads;
        this.qkScale = (float) (1 / Math.sqrt(Math.sqrt(dimHead)));
        this.kernels = kernels;
        this.dtype = dtype;
        int inner = heads * dimHead;
        norm1 = LayerNorm.load(w, "norm1", dim, LayerNorm.DEFAULT_EPS);
        norm2 = LayerNorm.load(w, "norm2", dim, LayerNorm.DEFAULT_EPS);
        toQ = Linear.withoutBias(w, "to_q", dim, inner);
        toKv = Linear.withoutBias(w, "to_kv", dim, 2 * inner);
        toOut = Linear.withoutBias(w, "to_out", inner, dim);
    }

    /**
     * @param x       [B, T, dim] projected image tokens
     * @param latents [B, Q, dim] latent queries
     * @return [B, Q, dim] (before the residual), attached to the manager of {@code latents}
     */
    public NDArray forward(NDArray x, NDArray latents) {
        try (NDManager scope = latents.getManager().newSubManager()) {
            NDArray image = norm1.forward(Scopes.borrow(x, scope));
            NDArray queries = norm2.forward(Scopes.borrow(latents, scope));
            NDList kv = toKv.forward(image.concat(queries, 1)).split(2, 2);
            NDArray qh = Heads.split(toQ.forward(queries), heads).mul(qkScale);
            NDArray kh = Heads.split(kv.get(0), heads).mul(qkScale);
            NDArray vh = Heads.split(kv.get(1), heads);
            NDArray probs = softmaxInFloat32(qh.matMul(kh.transpose(0, 1, 3, 2)));
            NDArray out = toOut.forward(Heads.merge(probs.matMul(vh)));
            out.attach(latents.getManager());
            return out;
        }
    }

    /**
     * Softmax over the keys computed in float32 and returned in the compute dtype, as the reference does
     * ({@code softmax(w.float()).type(w.dtype)}); DJL's softmax must never see a bf16 array.
     */
    private NDArray softmaxInFloat32(NDArray scores) {
        NDArray probs = scores.toType(DataType.FLOAT32, false).softmax(-1);
        return dtype == ComputeDType.FLOAT32 ? probs : kernels.cast(probs, dtype);
    }
}

package dev.montage.nn;

import ai.djl.ndarray.NDArray;

/** diffusers' head layout: [B, L, heads*d] to [B, heads, L, d] and back. */
public final class Heads {
    private Heads() {
    }

    /** [B, L, heads*d] to [B, heads, L, d]. */
    public static NDArray split(NDArray x, int heads) {
        long[] s = x.getShape().getShape();
        return x.reshape(s[0], s[1], heads, s[2] / heads).transpose(0, 2, 1, 3);
    }

    /** [B, heads, L, d] to [B, L, heads*d]. */
    public static NDArray merge(NDArray x) {
        long[] s = x.getShape().getShape();
        return x.transpose(0, 2, 1, 3).reshape(s[0], s[2], s[1] * s[3]);
    }
}

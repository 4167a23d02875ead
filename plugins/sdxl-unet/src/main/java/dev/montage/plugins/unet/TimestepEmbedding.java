package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;
import dev.montage.nn.Linear;
import dev.montage.nn.Weights;

/**
 * diffusers' {@code TimestepEmbedding}: {@code linear_2(silu(linear_1(x)))}; with a condition (a guidance-distilled
 * UNet's guidance embedding), {@code linear_1(x + cond_proj(condition))}.
 */
final class TimestepEmbedding {
    private final Linear linear1;
    private final Linear linear2;
    private final Linear condProj;
    private final Kernels kernels;

    TimestepEmbedding(Weights p, int in, int out, Kernels kernels) {
        this(p, in, out, 0, kernels);
    }

    /** @param condition the width of the condition {@code cond_proj} projects, 0 for none */
    TimestepEmbedding(Weights p, int in, int out, int condition, Kernels kernels) {
        this.condProj = condition > 0 ? Linear.withoutBias(p, "cond_proj", condition, in) : null;
        this.linear1 = Linear.withBias(p, "linear_1", in, out);
        this.linear2 = Linear.withBias(p, "linear_2", out, out);
        this.kernels = kernels;
    }

    /** The result is attached to the manager of {@code x}. */
    NDArray apply(NDArray x) {
        return linear2.forward(kernels.silu(linear1.forward(x)));
    }

    /**
     * With the condition added first; the result is attached to the manager of {@code x}.
     *
     * @throws IllegalArgumentException when the module has no {@code cond_proj} to take it
     */
    NDArray apply(NDArray x, NDArray condition) {
        if (condProj == null) {
            throw new IllegalArgumentException("this time embedding takes no condition (it has no cond_proj)");
        }
        return apply(x.add(condProj.forward(condition)));
    }
}

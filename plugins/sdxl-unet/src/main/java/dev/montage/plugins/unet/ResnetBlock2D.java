package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;

/**
 * diffusers' {@code ResnetBlock2D} with additive time conditioning:
 * {@code (shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))) + time_emb_proj(silu(temb)))))) / scale}.
 */
final class ResnetBlock2D {
    private final String name;
    private final GroupNormLayer norm1;
    private final ConvLayer conv1;
    private final LinearLayer timeEmbProj;
    private final GroupNormLayer norm2;
    private final ConvLayer conv2;
    /** 1x1 convolution when the channel count changes, else null. */
    private final ConvLayer convShortcut;
    private final float outputScaleFactor;
    private final Kernels kernels;

    /**
     * @param name dotted module name (for stage records), e.g. {@code down_blocks.0.resnets.1}
     */
    ResnetBlock2D(Params p, String name, int in, int out, UNetConfig config, float outputScaleFactor,
            Kernels kernels) {
        this.name = name;
        this.kernels = kernels;
        this.outputScaleFactor = outputScaleFactor;
        norm1 = GroupNormLayer.load(p, "norm1", in, config.normGroups(), config.normEps(), kernels);
        conv1 = ConvLayer.same(p, "conv1", in, out, 3);
        timeEmbProj = LinearLayer.withBias(p, "time_emb_proj", config.timeEmbedDim(), out);
        norm2 = GroupNormLayer.load(p, "norm2", out, config.normGroups(), config.normEps(), kernels);
        conv2 = ConvLayer.same(p, "conv2", out, out, 3);
        convShortcut = in == out ? null : ConvLayer.load(p, "conv_shortcut", in, out, 1, 1, 0);
    }

    /**
     * @param x [B, in, H, W]
     * @return [B, out, H, W], attached to the manager of {@code x}
     */
    NDArray forward(NDArray x, UNetPass pass) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray input = Scopes.borrow(x, scope);
            NDArray h = conv1.apply(norm1.applySilu(input), kernels);
            NDArray t = timeEmbProj.apply(Scopes.borrow(pass.activatedTemb(), scope), kernels);
            // the sums go into the convolutions' own results: fewer fresh arrays per block
            h.addi(t.expandDims(2).expandDims(3));
            h = conv2.apply(norm2.applySilu(h), kernels);
            NDArray out = h.addi(convShortcut == null ? input : convShortcut.apply(input, kernels));
            if (outputScaleFactor != 1f) {
                out.divi(outputScaleFactor);
            }
            pass.record(name, out);
            out.attach(caller);
            return out;
        }
    }
}

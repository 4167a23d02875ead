package dev.montage.plugins.vae;

import static dev.montage.api.host.Scopes.replace;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;

/**
 * {@code resnets.N} (diffusers {@code ResnetBlock2D} without time embedding):
 * {@code shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))))))}; the shortcut is a 1x1 {@code conv_shortcut}
 * when the channel count changes. The VAE's output scale factor is 1.
 */
final class ResnetBlock2D {
    private final GroupNormLayer norm1;
    private final Conv2dLayer conv1;
    private final GroupNormLayer norm2;
    private final Conv2dLayer conv2;
    private final Conv2dLayer convShortcut;

    ResnetBlock2D(VaeWeights w, int in, int out, int groups, Kernels kernels) {
        norm1 = new GroupNormLayer(w, "norm1", in, groups, kernels);
        conv1 = Conv2dLayer.same3x3(w, "conv1", in, out);
        norm2 = new GroupNormLayer(w, "norm2", out, groups, kernels);
        conv2 = Conv2dLayer.same3x3(w, "conv2", out, out);
        convShortcut = in == out ? null : Conv2dLayer.pointwise(w, "conv_shortcut", in, out);
    }

    NDArray forward(NDArray x) {
        return Scopes.scoped(x, input -> {
            NDArray h = norm1.forwardSilu(input);
            h = replace(h, conv1.forward(h));
            h = replace(h, norm2.forwardSilu(h));
            h = replace(h, conv2.forward(h));
            // in place: at full resolution every fresh array costs a round of page faults
            return h.addi(convShortcut == null ? input : convShortcut.forward(input));
        });
    }
}

package dev.montage.plugins.vae;

import static dev.montage.api.host.Scopes.replace;

import ai.djl.ndarray.NDArray;
import dev.montage.nn.ResnetBlock2D;
import dev.montage.nn.Weights;

/** {@code mid_block}: {@code resnets.0}, then {@code attentions.0} (unless disabled by config) and {@code resnets.1}. */
final class UNetMidBlock2D {
    private final ResnetBlock2D first;
    private final MidBlockAttention attention;
    private final ResnetBlock2D second;

    UNetMidBlock2D(Weights w, int channels, int groups, boolean withAttention) {
        first = new ResnetBlock2D(w.prefixed("resnets.0"), channels, channels, groups, VaeConfig.NORM_EPS, 0, 1f);
        attention = withAttention ? new MidBlockAttention(w.prefixed("attentions.0"), channels, groups) : null;
        second = new ResnetBlock2D(w.prefixed("resnets.1"), channels, channels, groups, VaeConfig.NORM_EPS, 0, 1f);
    }

    NDArray forward(NDArray x) {
        NDArray h = first.forward(x, null);
        if (attention != null) {
            h = replace(h, attention.forward(h));
        }
        return replace(h, second.forward(h, null));
    }
}

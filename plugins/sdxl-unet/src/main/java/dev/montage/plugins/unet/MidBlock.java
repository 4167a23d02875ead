package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.Attention;
import dev.montage.nn.ResnetBlock2D;
import dev.montage.nn.Weights;
import java.util.List;

/** {@code mid_block}: diffusers' {@code UNetMidBlock2DCrossAttn}, resnet, transformer, resnet. */
final class MidBlock {
    private static final String NAME = "mid_block";

    private final ResnetBlock2D resnet0;
    private final Transformer2DModel attention;
    private final ResnetBlock2D resnet1;

    MidBlock(Weights p, UNetConfig config, Kernels kernels) {
        int level = config.levels() - 1;
        int channels = config.blockOutChannels().get(level);
        resnet0 = new ResnetBlock2D(p.prefixed("resnets.0"), channels, channels, config.normGroups(),
                config.normEps(), config.timeEmbedDim(), config.midBlockScaleFactor());
        attention = new Transformer2DModel(p.prefixed("attentions.0"), NAME + ".attentions.0", channels,
                config.heads().get(level), config.midTransformerLayers(), config.crossAttentionDims().get(level),
                config, kernels);
        resnet1 = new ResnetBlock2D(p.prefixed("resnets.1"), channels, channels, config.normGroups(),
                config.normEps(), config.timeEmbedDim(), config.midBlockScaleFactor());
    }

    List<Attention> attentionLayers() {
        return attention.attentionLayers();
    }

    /** @return the block output, attached to the manager of {@code x} */
    NDArray forward(NDArray x, UNetPass pass) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray h = pass.recorded(NAME + ".resnets.0", resnet0.forward(Scopes.borrow(x, scope),
                    pass.activatedTemb()));
            h = pass.recorded(NAME + ".resnets.1", resnet1.forward(attention.forward(h, pass), pass.activatedTemb()));
            pass.record(NAME, h);
            h.attach(caller);
            return h;
        }
    }
}

package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.Conv2d;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code controlnet_cond_embedding}: diffusers' {@code ControlNetConditioningEmbedding}. {@code conv_in} + SiLU,
 * then per stage a same-size 3x3 convolution and a stride-2 one, each followed by SiLU, then {@code conv_out}
 * (no activation) to the UNet's first block width, so the control image arrives at the latent grid.
 */
final class ControlNetConditioningEmbedding {
    private final Conv2d convIn;
    /** {@code blocks.<2i>} (same size) and {@code blocks.<2i+1>} (stride 2) for each stage transition. */
    private final List<Conv2d> blocks = new ArrayList<>();
    private final Conv2d convOut;
    private final Kernels kernels;

    /** @param outChannels the UNet's {@code block_out_channels[0]} */
    ControlNetConditioningEmbedding(Weights p, ControlNetConfig config, int outChannels, Kernels kernels) {
        this.kernels = kernels;
        List<Integer> channels = config.embeddingChannels();
        convIn = Conv2d.same(p, "conv_in", config.conditioningChannels(), channels.get(0), 3);
        for (int i = 0; i < channels.size() - 1; i++) {
            int in = channels.get(i);
            blocks.add(Conv2d.same(p, "blocks." + 2 * i, in, in, 3));
            blocks.add(Conv2d.load(p, "blocks." + (2 * i + 1), in, channels.get(i + 1), 3, 2, 1));
        }
        convOut = Conv2d.same(p, "conv_out", channels.get(channels.size() - 1), outChannels, 3);
    }

    /**
     * @param image [B, conditioning channels, H, W] in the compute dtype
     * @return [B, outChannels, H / 2^stages, W / 2^stages], attached to the manager of {@code image}
     */
    NDArray forward(NDArray image) {
        NDManager caller = image.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray h = kernels.silu(convIn.forward(Scopes.borrow(image, scope)));
            for (Conv2d block : blocks) {
                h = kernels.silu(block.forward(h));
            }
            NDArray out = convOut.forward(h);
            out.attach(caller);
            return out;
        }
    }
}

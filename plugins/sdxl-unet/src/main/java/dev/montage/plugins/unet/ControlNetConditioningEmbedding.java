package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code controlnet_cond_embedding}: diffusers' {@code ControlNetConditioningEmbedding}. {@code conv_in} + SiLU,
 * then per stage a same-size 3x3 convolution and a stride-2 one, each followed by SiLU, then {@code conv_out}
 * (no activation) to the UNet's first block width, so the control image arrives at the latent grid.
 */
final class ControlNetConditioningEmbedding {
    private final ConvLayer convIn;
    /** {@code blocks.<2i>} (same size) and {@code blocks.<2i+1>} (stride 2) for each stage transition. */
    private final List<ConvLayer> blocks = new ArrayList<>();
    private final ConvLayer convOut;
    private final Kernels kernels;

    /** @param outChannels the UNet's {@code block_out_channels[0]} */
    ControlNetConditioningEmbedding(Params p, ControlNetConfig config, int outChannels, Kernels kernels) {
        this.kernels = kernels;
        List<Integer> channels = config.embeddingChannels();
        convIn = ConvLayer.same(p, "conv_in", config.conditioningChannels(), channels.get(0), 3);
        for (int i = 0; i < channels.size() - 1; i++) {
            int in = channels.get(i);
            blocks.add(ConvLayer.same(p, "blocks." + 2 * i, in, in, 3));
            blocks.add(ConvLayer.load(p, "blocks." + (2 * i + 1), in, channels.get(i + 1), 3, 2, 1));
        }
        convOut = ConvLayer.same(p, "conv_out", channels.get(channels.size() - 1), outChannels, 3);
    }

    /**
     * @param image [B, conditioning channels, H, W] in the compute dtype
     * @return [B, outChannels, H / 2^stages, W / 2^stages], attached to the manager of {@code image}
     */
    NDArray forward(NDArray image) {
        return Scopes.scoped(image, x -> {
            NDArray h = kernels.silu(convIn.apply(x, kernels));
            for (ConvLayer block : blocks) {
                h = kernels.silu(block.apply(h, kernels));
            }
            return convOut.apply(h, kernels);
        });
    }
}

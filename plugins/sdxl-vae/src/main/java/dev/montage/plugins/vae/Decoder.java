package dev.montage.plugins.vae;

import static dev.montage.api.host.Scopes.replace;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.Cancellation;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.Conv2d;
import dev.montage.nn.GroupNorm;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code decoder}: {@code conv_in} to the deepest width, the mid block, one {@code UpDecoderBlock2D} per level
 * from the deepest (each but the last doubling the resolution), {@code conv_norm_out}, SiLU, {@code conv_out}.
 */
final class Decoder {
    private final Conv2d convIn;
    private final UNetMidBlock2D midBlock;
    private final List<UpDecoderBlock2D> upBlocks = new ArrayList<>();
    private final GroupNorm convNormOut;
    private final Conv2d convOut;
    private final Kernels kernels;

    Decoder(Weights w, VaeConfig config) {
        List<Integer> channels = config.blockOutChannels();
        int groups = config.normGroups();
        int deepest = config.deepestChannels();
        convIn = Conv2d.same(w, "conv_in", config.latentChannels(), deepest, 3);
        midBlock = new UNetMidBlock2D(w.prefixed("mid_block"), deepest, groups, config.midBlockAttention());
        int in = deepest;
        for (int i = 0; i < channels.size(); i++) {
            int out = channels.get(channels.size() - 1 - i);
            boolean last = i == channels.size() - 1;
            upBlocks.add(new UpDecoderBlock2D(w.prefixed("up_blocks." + i), in, out, config.layersPerBlock() + 1,
                    !last, groups));
            in = out;
        }
        convNormOut = GroupNorm.load(w, "conv_norm_out", channels.get(0), groups, VaeConfig.NORM_EPS);
        convOut = Conv2d.same(w, "conv_out", channels.get(0), config.outChannels(), 3);
        kernels = w.kernels();
    }

    /**
     * @param z     [B, latent channels, h, w] (after {@code post_quant_conv})
     * @param probe sees {@code decoder.conv_in}, {@code decoder.mid_block}, {@code decoder.up_blocks.N}
     * @return [B, out channels, h*f, w*f], attached to the manager of {@code z}
     */
    NDArray forward(NDArray z, StageProbe probe) {
        NDManager caller = z.getManager();
        try (NDManager scope = caller.newSubManager()) {
            // the whole stack runs in the host's convolution layout; the result leaves in the standard one
            NDArray h = kernels.convolutionLayout(Scopes.borrow(z, scope));
            h = replace(h, convIn.forward(h));
            probe.stage("decoder.conv_in", h);
            h = replace(h, midBlock.forward(h));
            probe.stage("decoder.mid_block", h);
            for (int i = 0; i < upBlocks.size(); i++) {
                Cancellation.checkpoint();
                h = replace(h, upBlocks.get(i).forward(h));
                probe.stage("decoder.up_blocks." + i, h);
            }
            h = replace(h, convNormOut.forwardSilu(h));
            h = replace(h, convOut.forward(h));
            NDArray out = kernels.standardLayout(h);
            out.attach(caller);
            return out;
        }
    }
}

package dev.montage.plugins.vae;

import static dev.montage.api.host.Scopes.replace;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.Cancellation;
import dev.montage.api.host.Scopes;
import dev.montage.nn.Conv2d;
import dev.montage.nn.GroupNorm;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code encoder}: {@code conv_in}, one {@code DownEncoderBlock2D} per level (each but the last halving the
 * resolution), the mid block, {@code conv_norm_out}, SiLU, {@code conv_out} to 2 x latent channels (mean and
 * log-variance).
 */
final class Encoder {
    private final Conv2d convIn;
    private final List<DownEncoderBlock2D> downBlocks = new ArrayList<>();
    private final UNetMidBlock2D midBlock;
    private final GroupNorm convNormOut;
    private final Conv2d convOut;

    Encoder(Weights w, VaeConfig config) {
        List<Integer> channels = config.blockOutChannels();
        int groups = config.normGroups();
        int deepest = config.deepestChannels();
        convIn = Conv2d.same(w, "conv_in", config.inChannels(), channels.get(0), 3);
        int in = channels.get(0);
        for (int i = 0; i < channels.size(); i++) {
            int out = channels.get(i);
            boolean last = i == channels.size() - 1;
            downBlocks.add(new DownEncoderBlock2D(w.prefixed("down_blocks." + i), in, out, config.layersPerBlock(),
                    !last, groups));
            in = out;
        }
        midBlock = new UNetMidBlock2D(w.prefixed("mid_block"), deepest, groups, config.midBlockAttention());
        convNormOut = GroupNorm.load(w, "conv_norm_out", deepest, groups, VaeConfig.NORM_EPS);
        convOut = Conv2d.same(w, "conv_out", deepest, 2 * config.latentChannels(), 3);
    }

    /**
     * @param x [B, in channels, H, W] in -1..1
     * @return [B, 2 x latent channels, H/f, W/f], attached to the manager of {@code x}
     */
    NDArray forward(NDArray x) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray h = convIn.forward(Scopes.borrow(x, scope));
            for (DownEncoderBlock2D block : downBlocks) {
                Cancellation.checkpoint();
                h = replace(h, block.forward(h));
            }
            h = replace(h, midBlock.forward(h));
            h = replace(h, convNormOut.forwardSilu(h));
            NDArray out = convOut.forward(h);
            out.attach(caller);
            return out;
        }
    }
}

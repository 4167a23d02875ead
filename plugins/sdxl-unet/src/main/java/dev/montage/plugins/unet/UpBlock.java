package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.Attention;
import dev.montage.nn.ResnetBlock2D;
import dev.montage.nn.Upsample2D;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * {@code up_blocks.N} (coarsest first): diffusers' {@code UpBlock2D} or {@code CrossAttnUpBlock2D}. Each resnet
 * first concatenates the next skip connection (taken from the end) along the channels; a nearest-neighbour
 * upsampler follows except at the finest level.
 */
final class UpBlock {
    private final int index;
    private final Kernels kernels;
    private final String name;
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    /** The resnets' dotted names, for stage records (built once, not per step). */
    private final List<String> resnetNames = new ArrayList<>();
    private final List<Transformer2DModel> attentions = new ArrayList<>();
    private final String samplerName;
    private final Upsample2D upsampler;

    UpBlock(Weights p, int index, UNetConfig config, Kernels kernels) {
        this.index = index;
        this.kernels = kernels;
        this.name = "up_blocks." + index;
        this.samplerName = name + ".upsamplers.0";
        int levels = config.levels();
        int level = config.upLevel(index);
        int out = config.blockOutChannels().get(level);
        int prevOut = config.blockOutChannels().get(Math.min(level + 1, levels - 1));
        int skipIn = config.blockOutChannels().get(Math.max(level - 1, 0));
        boolean cross = UNetConfig.hasAttention(config.upBlockTypes().get(index));
        int layers = config.layersPerBlock().get(level) + 1;
        for (int i = 0; i < layers; i++) {
            int resIn = i == 0 ? prevOut : out;
            int skip = i == layers - 1 ? skipIn : out;
            resnetNames.add(name + ".resnets." + i);
            resnets.add(new ResnetBlock2D(p.prefixed("resnets." + i), resIn + skip, out, config.normGroups(),
                    config.normEps(), config.timeEmbedDim(), 1f));
            if (cross) {
                attentions.add(new Transformer2DModel(p.prefixed("attentions." + i), name + ".attentions." + i, out,
                        config.heads().get(level), config.upTransformerLayers().get(index).get(i),
                        config.crossAttentionDims().get(level), config, kernels));
            }
        }
        upsampler = index == levels - 1 ? null : new Upsample2D(p.prefixed("upsamplers.0"), out);
    }

    List<Attention> attentionLayers() {
        List<Attention> out = new ArrayList<>();
        attentions.forEach(a -> out.addAll(a.attentionLayers()));
        return out;
    }

    /** Skip connections this block consumes. */
    int skipCount() {
        return resnets.size();
    }

    /**
     * @param skips      the remaining skip connections; this block pops its own from the end
     * @param outputSize size to upsample to, or null for doubling
     * @param freeU      FreeU's scaling of the backbone and the skips before each concatenation, or null for none
     * @return the block output, attached to the manager of {@code x}
     */
    NDArray forward(NDArray x, Deque<NDArray> skips, long[] outputSize, UNetPass pass, FreeU freeU) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray h = Scopes.borrow(x, scope);
            boolean scaled = freeU != null && FreeU.acts(index);
            for (int i = 0; i < resnets.size(); i++) {
                NDArray skip = skips.removeLast();
                if (scaled) {
                    h = freeU.backbone(index, h, kernels);
                    skip = freeU.skip(index, Scopes.borrow(skip, scope), kernels);
                }
                h = pass.recorded(resnetNames.get(i), resnets.get(i).forward(h.concat(skip, 1),
                        pass.activatedTemb()));
                if (!attentions.isEmpty()) {
                    h = attentions.get(i).forward(h, pass);
                }
            }
            if (upsampler != null) {
                h = pass.recorded(samplerName, upsampler.forward(h, outputSize));
            }
            pass.record(name, h);
            h.attach(caller);
            return h;
        }
    }
}

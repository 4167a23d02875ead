package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import dev.montage.api.host.Kernels;
import dev.montage.nn.Attention;
import dev.montage.nn.Downsample2D;
import dev.montage.nn.ResnetBlock2D;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code down_blocks.N}: diffusers' {@code DownBlock2D} (resnets only) or {@code CrossAttnDownBlock2D} (each resnet
 * followed by a transformer), then a stride-2 downsampler except at the coarsest level. Every resnet (+ transformer)
 * output and the downsampler output are skip connections for the up path.
 */
final class DownBlock {
    private final String name;
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    /** The resnets' dotted names, for stage records (built once, not per step). */
    private final List<String> resnetNames = new ArrayList<>();
    private final List<Transformer2DModel> attentions = new ArrayList<>();
    private final String samplerName;
    private final Downsample2D downsampler;

    DownBlock(Weights p, int level, UNetConfig config, Kernels kernels) {
        this.name = "down_blocks." + level;
        this.samplerName = name + ".downsamplers.0";
        int out = config.blockOutChannels().get(level);
        int in = level == 0 ? out : config.blockOutChannels().get(level - 1);
        boolean cross = UNetConfig.hasAttention(config.downBlockTypes().get(level));
        for (int i = 0; i < config.layersPerBlock().get(level); i++) {
            resnetNames.add(name + ".resnets." + i);
            resnets.add(new ResnetBlock2D(p.prefixed("resnets." + i), i == 0 ? in : out, out, config.normGroups(),
                    config.normEps(), config.timeEmbedDim(), 1f));
            if (cross) {
                attentions.add(new Transformer2DModel(p.prefixed("attentions." + i), name + ".attentions." + i, out,
                        config.heads().get(level), config.downTransformerLayers().get(level).get(i),
                        config.crossAttentionDims().get(level), config, kernels));
            }
        }
        downsampler = level == config.levels() - 1 ? null
                : new Downsample2D(p.prefixed("downsamplers.0"), out, config.downsamplePadding());
    }

    List<Attention> attentionLayers() {
        List<Attention> out = new ArrayList<>();
        attentions.forEach(a -> out.addAll(a.attentionLayers()));
        return out;
    }

    /**
     * @param skips receives this block's skip connections, in order
     * @return the block output, attached (like the skips) to the manager of {@code x}
     */
    NDArray forward(NDArray x, UNetPass pass, List<NDArray> skips) {
        NDArray h = x;
        for (int i = 0; i < resnets.size(); i++) {
            h = pass.recorded(resnetNames.get(i), resnets.get(i).forward(h, pass.activatedTemb()));
            if (!attentions.isEmpty()) {
                h = attentions.get(i).forward(h, pass);
            }
            skips.add(h);
        }
        if (downsampler != null) {
            h = pass.recorded(samplerName, downsampler.forward(h));
            skips.add(h);
        }
        pass.record(name, h);
        return h;
    }
}

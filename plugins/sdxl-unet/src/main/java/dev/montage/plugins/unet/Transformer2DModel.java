package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.Cancellation;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.Attention;
import dev.montage.nn.Conv2d;
import dev.montage.nn.GroupNorm;
import dev.montage.nn.Linear;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code Transformer2DModel} for continuous inputs: group norm, {@code proj_in}, transformer blocks
 * over the flattened [B, H*W, C] tokens, {@code proj_out}, plus the input as residual. The projections are
 * linear ({@code use_linear_projection}, SDXL) or 1x1 convolutions.
 */
final class Transformer2DModel {
    /** diffusers builds this group norm with eps 1e-6 whatever the UNet's {@code norm_eps}. */
    private static final double NORM_EPS = 1e-6;

    private final String name;
    private final GroupNorm norm;
    private final Linear projInLinear;
    private final Linear projOutLinear;
    private final Conv2d projInConv;
    private final Conv2d projOutConv;
    private final List<BasicTransformerBlock> blocks = new ArrayList<>();
    private final Kernels kernels;

    Transformer2DModel(Weights p, String name, int channels, int heads, int layers, int contextDim, UNetConfig config,
            Kernels kernels) {
        this.name = name;
        this.kernels = kernels;
        norm = GroupNorm.load(p, "norm", channels, config.normGroups(), NORM_EPS);
        boolean linear = config.linearProjection();
        projInLinear = linear ? Linear.withBias(p, "proj_in", channels, channels) : null;
        projOutLinear = linear ? Linear.withBias(p, "proj_out", channels, channels) : null;
        projInConv = linear ? null : Conv2d.load(p, "proj_in", channels, channels, 1, 1, 0);
        projOutConv = linear ? null : Conv2d.load(p, "proj_out", channels, channels, 1, 1, 0);
        for (int i = 0; i < layers; i++) {
            blocks.add(new BasicTransformerBlock(p.prefixed("transformer_blocks." + i),
                    name + ".transformer_blocks." + i, channels, heads, contextDim, kernels));
        }
    }

    /** Attention layers in processor-registry order. */
    List<Attention> attentionLayers() {
        List<Attention> out = new ArrayList<>();
        blocks.forEach(b -> out.addAll(List.of(b.attentions())));
        return out;
    }

    /**
     * @param x [B, C, H, W]
     * @return [B, C, H, W], attached to the manager of {@code x}
     */
    NDArray forward(NDArray x, UNetPass pass) {
        long b = x.getShape().get(0);
        long c = x.getShape().get(1);
        int height = (int) x.getShape().get(2);
        int width = (int) x.getShape().get(3);
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray residual = Scopes.borrow(x, scope);
            NDArray h = norm.forward(residual);
            pass.record(name + ".norm", h);
            h = projInConv == null ? h : projInConv.forward(h);
            h = h.transpose(0, 2, 3, 1).reshape(b, (long) height * width, c);
            if (projInLinear != null) {
                h = projInLinear.forward(h);
            }
            pass.record(name + ".proj_in", h);
            for (BasicTransformerBlock block : blocks) {
                Cancellation.checkpoint();
                h = block.forward(h, height, width, pass);
            }
            if (projOutLinear != null) {
                h = projOutLinear.forward(h);
                pass.record(name + ".proj_out", h);
            }
            h = h.reshape(b, height, width, c).transpose(0, 3, 1, 2);
            if (projOutConv != null) {
                h = projOutConv.forward(h);
                pass.record(name + ".proj_out", h);
            }
            NDArray out = h.add(residual);
            pass.record(name, out);
            out.attach(caller);
            return out;
        }
    }
}

package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import java.util.Map;

/**
 * {@code encoder.layers.N}: pre-LayerNorm transformer layer,
 * {@code x + attn(ln1(x))} then {@code x + mlp(ln2(x))}.
 */
final class ClipEncoderLayer {
    private final ClipAttention selfAttn;
    private final NDArray ln1Weight;
    private final NDArray ln1Bias;
    private final NDArray ln2Weight;
    private final NDArray ln2Bias;
    private final NDArray fc1Weight;
    private final NDArray fc1Bias;
    private final NDArray fc2Weight;
    private final NDArray fc2Bias;
    private final ClipActivation activation;
    private final float eps;
    private final Kernels kernels;

    ClipEncoderLayer(ModelWeights w, NDManager manager, ClipConfig config, Kernels kernels) {
        int d = config.hiddenSize();
        int ff = config.intermediateSize();
        this.kernels = kernels;
        this.activation = config.activation();
        this.eps = config.layerNormEps();
        selfAttn = new ClipAttention(w.prefixed("self_attn"), manager, d, config.heads(), kernels);
        ln1Weight = w.get("layer_norm1.weight", manager, d);
        ln1Bias = w.get("layer_norm1.bias", manager, d);
        ln2Weight = w.get("layer_norm2.weight", manager, d);
        ln2Bias = w.get("layer_norm2.bias", manager, d);
        fc1Weight = w.get("mlp.fc1.weight", manager, ff, d);
        fc1Bias = w.get("mlp.fc1.bias", manager, ff);
        fc2Weight = w.get("mlp.fc2.weight", manager, d, ff);
        fc2Bias = w.get("mlp.fc2.bias", manager, d);
    }

    /**
     * @param x    [B, L, D]
     * @param bias attention bias (causal mask for text, null for vision)
     * @return [B, L, D], attached to the manager of {@code x}
     */
    NDArray forward(NDArray x, NDArray bias) {
        try (NDManager scope = NDManager.subManagerOf(x)) {
            // DJL puts an op's result into its input's manager: moving x here keeps every intermediate in scope
            scope.tempAttachAll(x);
            Shape norm = new Shape(ln1Weight.getShape().get(0));
            NDArray h = LayerNorm.layerNorm(x, norm, ln1Weight, ln1Bias, eps).singletonOrThrow();
            NDArray attn = selfAttn.forward(h, bias);
            NDArray residual = x.add(attn);
            NDArray h2 = LayerNorm.layerNorm(residual, norm, ln2Weight, ln2Bias, eps).singletonOrThrow();
            NDArray up = kernels.linear(h2, fc1Weight, fc1Bias);
            NDArray act = activation.apply(up, kernels);
            NDArray down = kernels.linear(act, fc2Weight, fc2Bias);
            return scope.ret(residual.add(down));
        }
    }

    /** Adds the tensors of every encoder layer of a configuration, named {@code <prefix><i>.<tensor>}. */
    static void weightShapes(String prefix, ClipConfig c, Map<String, long[]> shapes) {
        long d = c.hiddenSize();
        long ff = c.intermediateSize();
        for (int i = 0; i < c.layers(); i++) {
            String l = prefix + i + ".";
            for (String proj : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
                shapes.put(l + "self_attn." + proj + ".weight", new long[] {d, d});
                shapes.put(l + "self_attn." + proj + ".bias", new long[] {d});
            }
            for (String norm : new String[] {"layer_norm1", "layer_norm2"}) {
                shapes.put(l + norm + ".weight", new long[] {d});
                shapes.put(l + norm + ".bias", new long[] {d});
            }
            shapes.put(l + "mlp.fc1.weight", new long[] {ff, d});
            shapes.put(l + "mlp.fc1.bias", new long[] {ff});
            shapes.put(l + "mlp.fc2.weight", new long[] {d, ff});
            shapes.put(l + "mlp.fc2.bias", new long[] {d});
        }
    }
}

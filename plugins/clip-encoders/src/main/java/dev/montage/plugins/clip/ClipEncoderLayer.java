package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.LayerNorm;
import dev.montage.nn.Linear;
import dev.montage.nn.Weights;
import java.util.Map;

/**
 * {@code encoder.layers.N}: pre-LayerNorm transformer layer,
 * {@code x + attn(ln1(x))} then {@code x + mlp(ln2(x))}.
 */
final class ClipEncoderLayer {
    private final ClipAttention selfAttn;
    private final LayerNorm layerNorm1;
    private final LayerNorm layerNorm2;
    private final Linear fc1;
    private final Linear fc2;
    private final ClipActivation activation;
    private final Kernels kernels;

    ClipEncoderLayer(Weights w, ClipConfig config) {
        int d = config.hiddenSize();
        int ff = config.intermediateSize();
        this.kernels = w.kernels();
        this.activation = config.activation();
        selfAttn = new ClipAttention(w.prefixed("self_attn"), d, config.heads());
        layerNorm1 = LayerNorm.load(w, "layer_norm1", d, config.layerNormEps());
        layerNorm2 = LayerNorm.load(w, "layer_norm2", d, config.layerNormEps());
        fc1 = Linear.withBias(w, "mlp.fc1", d, ff);
        fc2 = Linear.withBias(w, "mlp.fc2", ff, d);
    }

    /**
     * @param x    [B, L, D]
     * @param bias attention bias (causal mask for text, null for vision)
     * @return [B, L, D], attached to the manager of {@code x}
     */
    NDArray forward(NDArray x, NDArray bias) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            NDArray input = Scopes.borrow(x, scope);
            NDArray attn = selfAttn.forward(layerNorm1.forward(input), bias);
            NDArray residual = input.add(attn);
            NDArray down = fc2.forward(activation.apply(fc1.forward(layerNorm2.forward(residual)), kernels));
            NDArray out = residual.add(down);
            out.attach(caller);
            return out;
        }
    }

    /** Adds the tensors of every encoder layer of a configuration, named {@code <prefix>.<i>.<tensor>}. */
    static void weightShapes(String prefix, ClipConfig c, Map<String, long[]> shapes) {
        Weights layers = Weights.shapesInto(shapes).prefixed(prefix);
        for (int i = 0; i < c.layers(); i++) {
            new ClipEncoderLayer(layers.prefixed(Integer.toString(i)), c);
        }
    }
}

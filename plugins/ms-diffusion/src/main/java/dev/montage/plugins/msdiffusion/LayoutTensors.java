package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;

/**
 * One grid resolution's layout as the fused image attention uses it, in the compute dtype on the device.
 *
 * <p>MS-Diffusion zeroes the image-attention probabilities of background rows and multiplies subject {@code j}'s
 * probability columns by its scale. Both act linearly on {@code probs · V}, so instead of materialising the
 * [B·heads, L, K] probabilities this scales the value rows ({@link #valueScale}) and the output rows
 * ({@link #rowWeight}, which also carries the global scale), and leaves the softmax to the fused kernel with the
 * same additive bias, which reproduces the reference's -10000 (not -inf) semantics exactly.
 *
 * @param bias       [B, 1, L, K] additive bias (0 or -10000), broadcast over heads
 * @param rowWeight  [B, L, 1]: 0 at background positions, else the global scale (1 with per-subject scales)
 * @param valueScale [1, K, 1] per-token scale of the image values (1 for dummy tokens), null without
 *                   per-subject scales
 */
record LayoutTensors(NDArray bias, NDArray rowWeight, NDArray valueScale) {

    /** Uploads a mask into {@code manager}. */
    static LayoutTensors of(LayoutMask mask, SubjectConditioning layout, NDManager manager, Kernels kernels,
            ComputeDType dtype) {
        int rows = mask.rows();
        int positions = mask.positions();
        int k = layout.imageTokens();
        NDArray bias = manager.create(mask.bias(layout.dummyTokens(), layout.tokensPerSubject()),
                new Shape(rows, 1, positions, k));
        boolean perSubject = layout.subjectScales().isPresent();
        float foreground = perSubject ? 1f : (float) layout.scale();
        float[] weights = new float[rows * positions];
        for (int b = 0; b < rows; b++) {
            for (int l = 0; l < positions; l++) {
                weights[b * positions + l] = mask.isBackground(b, l) ? 0f : foreground;
            }
        }
        NDArray rowWeight = manager.create(weights, new Shape(rows, positions, 1));
        NDArray valueScale = null;
        if (perSubject) {
            double[] scales = layout.subjectScales().get();
            float[] perToken = new float[k];
            for (int t = 0; t < k; t++) {
                int j = (t - layout.dummyTokens()) / layout.tokensPerSubject();
                perToken[t] = t < layout.dummyTokens() ? 1f : (float) scales[j];
            }
            valueScale = toCompute(manager.create(perToken, new Shape(1, k, 1)), kernels, dtype);
        }
        return new LayoutTensors(toCompute(bias, kernels, dtype), toCompute(rowWeight, kernels, dtype), valueScale);
    }

    /** Whether the arrays are still alive (their manager may have ended with the generation). */
    boolean isAlive() {
        return !bias.isReleased();
    }

    private static NDArray toCompute(NDArray f32, Kernels kernels, ComputeDType dtype) {
        if (dtype == ComputeDType.FLOAT32) {
            return f32;
        }
        NDArray cast = kernels.cast(f32, dtype);
        f32.close();
        return cast;
    }
}

package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;

/**
 * {@code fourier_embedder}: sin and cos of each box coordinate at {@code F} frequencies
 * {@code f_k = 100^(k/F)}. Output index {@code k*8 + s*4 + c} holds {@code sin} (s = 0) or {@code cos} (s = 1) of
 * {@code f_k * box[c]}, the layout the checkpoint's {@code latent_proj.0} was trained on.
 */
final class FourierEmbedder {
    private static final double TEMPERATURE = 100;

    private final float[] frequencies;

    FourierEmbedder(int numFreqs) {
        frequencies = new float[numFreqs];
        for (int k = 0; k < numFreqs; k++) {
            frequencies[k] = (float) Math.pow(TEMPERATURE, (float) k / numFreqs);
        }
    }

    /**
     * @param boxes [N, 4] float32 x0, y0, x1, y1
     * @return [N, 8F] float32, attached to the manager of {@code boxes}
     */
    NDArray embed(NDArray boxes) {
        long n = boxes.getShape().get(0);
        NDArray freqs = boxes.getManager().create(frequencies);
        NDArray angles = boxes.expandDims(-1).mul(freqs); // [N, 4, F]
        return NDArrays.stack(new NDList(angles.sin(), angles.cos()), -1) // [N, 4, F, 2]
                .transpose(0, 2, 3, 1) // [N, F, 2, 4]
                .reshape(n, (long) frequencies.length * 8);
    }
}

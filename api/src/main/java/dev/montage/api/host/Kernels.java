package dev.montage.api.host;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Fused tensor operations that DJL lacks or cannot run in every dtype, provided by the host runtime.
 *
 * <p>Every result is attached to the manager of the first array argument. All methods accept arrays in
 * the engine's compute dtype (including bf16) on any device; none of them hands a bf16 {@code DataType}
 * to DJL.
 */
public interface Kernels {

    /**
     * Scaled dot-product attention {@code softmax(q k^T * scale + bias) v}, scale = 1/sqrt(head dim).
     *
     * @param q    [..., L, E] queries
     * @param k    [..., S, E] keys
     * @param v    [..., S, Ev] values
     * @param bias additive bias broadcastable to [..., L, S], or {@code null}
     * @return [..., L, Ev]
     */
    NDArray scaledDotProductAttention(NDArray q, NDArray k, NDArray v, NDArray bias);

    /**
     * Group normalisation over the channel axis 1 of an [N, C, ...] array.
     *
     * @param weight [C] scale, or {@code null}
     * @param bias   [C] shift, or {@code null}
     */
    NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, double eps);

    /**
     * {@code silu(groupNorm(x, groups, weight, bias, eps))}, the activation applied in place to the normalised array:
     * every diffusers resnet block normalises and then activates, and at full VAE resolution a second array of that
     * size costs more in fresh memory than the activation itself.
     */
    NDArray groupNormSilu(NDArray x, int groups, NDArray weight, NDArray bias, double eps);

    /**
     * A 2-d convolution with square stride and padding, no dilation, one group, in the dtype of {@code x} (the
     * parameters have it too). Model code should prefer it to DJL's {@code Conv2d.conv2d}: the host guarantees a
     * result correct to the dtype's rounding for every channel count, where its backend alone may not.
     *
     * @param x      [N, C, H, W]
     * @param weight [O, C, k, k]
     * @param bias   [O], or {@code null}
     * @return [N, O, H', W']
     */
    NDArray conv2d(NDArray x, NDArray weight, NDArray bias, int stride, int padding);

    /**
     * An {@code nn.Linear}, {@code x W^T + b}, in the dtype of {@code x} (the parameters have it too). Model code
     * should prefer it to DJL's {@code Linear.linear}: the host picks the fastest correct product for its device.
     * Pass a contiguous {@code x}: a strided view of more than two axes may be multiplied batch by batch, far more
     * slowly.
     *
     * @param x      [..., in]
     * @param weight [out, in], or what {@link #prepareLinearWeight} made of such a weight
     * @param bias   [out], or {@code null}
     * @return [..., out]
     */
    NDArray linear(NDArray x, NDArray weight, NDArray bias);

    /**
     * A linear layer's weight laid out for this host's products, for model parameters that {@link #linear}
     * multiplies many times (every step). The result computes the same product as {@code weight}, to the dtype's
     * rounding; pass it only to {@link #linear}, never read it or hand it to another operation. Where the host has no
     * better layout the result is {@code weight} itself, which is what this default returns.
     *
     * <p>A result other than {@code weight} is a new array attached to the manager of {@code weight}, and the caller
     * closes {@code weight} once it no longer needs it.
     *
     * @param weight [out, in], in the compute dtype
     * @return the weight for {@link #linear}, possibly {@code weight}
     */
    default NDArray prepareLinearWeight(NDArray weight) {
        return weight;
    }

    /**
     * {@code x} in the memory layout this host's convolutions run fastest on for its dtype and device: the same shape
     * and values, only the order of the elements in memory may differ. Every operation accepts either layout and
     * keeps it where it can, so model code converts once before a stack of convolutions and back with
     * {@link #standardLayout} before it hands the result on. The result is {@code x} itself where the host has no
     * better layout (what this default returns), otherwise a new array attached to the manager of {@code x} that the
     * caller closes.
     *
     * @param x [N, C, H, W]
     */
    default NDArray convolutionLayout(NDArray x) {
        return x;
    }

    /**
     * {@code x} in the standard row-major layout, the one every array DJL creates has. The result is {@code x} itself
     * (what this default returns) or a new array attached to the manager of {@code x} that the caller closes; tell
     * them apart by identity.
     */
    default NDArray standardLayout(NDArray x) {
        return x;
    }

    /** {@code x * sigmoid(x)}. */
    NDArray silu(NDArray x);

    /** Exact (erf) GELU, or the tanh approximation when {@code tanhApproximation} is set. */
    NDArray gelu(NDArray x, boolean tanhApproximation);

    /** Zeros of a compute dtype on the manager's device ({@code zerosLike} would hand DJL a bf16 dtype). */
    NDArray zeros(NDManager manager, Shape shape, ComputeDType dtype);

    /**
     * Converts to a compute dtype (the only way model code obtains bf16 arrays). When {@code x} already has
     * that dtype the result may share its storage; it is still a separate array to close.
     */
    NDArray cast(NDArray x, ComputeDType dtype);

    /** The compute dtype of an array, recognising bf16 arrays without asking DJL to map the type back. */
    ComputeDType dtypeOf(NDArray x);
}

package dev.montage.runtime.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.stream.Stream;

/**
 * {@link Kernels} implemented by tiny TorchScript modules that are written in memory at run time
 * (see {@link TorchScriptArchive}) from the sources under {@code kernels/} (see {@link KernelSource}), loaded once
 * each on first use and then called like functions.
 *
 * <p>Each distinct kernel variant (group norm with its group count and epsilon, gelu with or without the
 * tanh approximation, a cast to a given dtype, ...) is its own one-method module: TorchScript constants go
 * into the source, so every argument that reaches the module is a tensor. The modules have no parameters,
 * so one set serves arrays on any device. Instances are thread-safe.
 *
 * <p>Results are ordinary (non-inference) tensors attached to the manager of the first array argument;
 * the argument arrays are neither closed nor modified.
 */
public final class TorchScriptKernels implements Kernels, AutoCloseable {
    /** bf16 convolutions with a multiple of this many output channels are computed correctly by every backend. */
    private static final int SAFE_BF16_CONV_CHANNELS = 16;
    /**
     * CPU attention over at most this many keys (text and subject tokens) is computed with explicit scores: a
     * [.., L, S] score array is small there, and bf16 matrix products beat the fused kernel, which on CPUs without
     * AMX multiplies in float32 (see {@link #scaledDotProductAttention}).
     */
    static final long FEW_KEYS = 128;
    // sources of the attention modules, read once: every attention layer of every step looks one up
    private static final String FEW_KEYS_SOURCE = KernelSource.fixed("few_keys_attention");
    private static final String FEW_KEYS_BIASED_SOURCE = KernelSource.fixed("few_keys_biased_attention");
    private static final String SDPA_SOURCE = KernelSource.fixed("sdpa");
    // SDPA wants a float mask in the query dtype, while biases are usually built in float32
    private static final String SDPA_BIASED_SOURCE = KernelSource.fixed("sdpa_biased");
    /**
     * Score elements per chunk of the CPU bf16 attention over more than {@link #FEW_KEYS} keys: two bf16 buffers of
     * 8 MiB. Smaller chunks ran slower on the machine of BENCHMARKS.md, larger ones no faster (and fresh blocks of
     * that size cost page faults).
     */
    static final long CHUNK_SCORES = 1L << 22;
    /** Chunk size that keeps long CPU attention in PyTorch's fused kernel. */
    static final long FUSED = 0;
    /**
     * Explicit attention in query chunks of {@code ${chunk_scores}} score elements for bf16 on the CPU, otherwise the
     * fused kernel. Each chunk's scores go into the same two preallocated buffers (products, then probabilities), so a
     * chunk allocates only its output rows; a fresh score block per chunk made timings erratic. The softmax of bf16
     * scores accumulates in float32 and rounds the probabilities once.
     */
    private static final KernelSource LONG_ATTENTION = KernelSource.read("long_attention");
    /**
     * oneDNN's inner product, which PyTorch's {@code torch.linear} uses for bf16 but not for float32 (MKL there).
     * The empty list is the activation's scalars, none for {@code "none"}.
     */
    private static final KernelSource ONEDNN_LINEAR = KernelSource.read("onednn_linear");
    private static final String ONEDNN_LINEAR_SOURCE = linearSource(ONEDNN_LINEAR, true);
    private static final String ONEDNN_LINEAR_NO_BIAS_SOURCE = linearSource(ONEDNN_LINEAR, false);
    /**
     * A bf16 product: oneDNN's inner product for a weight {@link #prepareLinearWeight} packed (an mkldnn-layout tensor,
     * which {@code torch.linear} rejects), {@code torch.linear} for a plain one (oneDNN's was not faster with plain
     * weights: −10 to +9 % on SDXL and CLIP shapes).
     */
    private static final KernelSource PACKED_OR_PLAIN_LINEAR = KernelSource.read("packed_or_plain_linear");
    private static final String PACKED_OR_PLAIN_LINEAR_SOURCE = linearSource(PACKED_OR_PLAIN_LINEAR, true);
    private static final String PACKED_OR_PLAIN_LINEAR_NO_BIAS_SOURCE = linearSource(PACKED_OR_PLAIN_LINEAR, false);
    private static final String ONEDNN_PACK_SOURCE = KernelSource.fixed("onednn_reorder_linear_weight");
    private static final String DTYPE_SOURCE = KernelSource.fixed("dtype_id");
    private static final KernelSource GROUP_NORM = KernelSource.read("group_norm");
    private static final KernelSource GROUP_NORM_SILU = KernelSource.read("group_norm_silu");
    /** A bf16 convolution computed in float32 and rounded back (see {@link #conv2d}). */
    private static final KernelSource CONV2D_IN_FLOAT32 = KernelSource.read("conv2d_in_float32");
    /** A float32 convolution that cuDNN may not compute in TensorFloat-32 (see {@link #conv2d}). */
    private static final KernelSource CONV2D_WITHOUT_TF32 = KernelSource.read("conv2d_without_tf32");
    private static final String SILU_SOURCE = KernelSource.fixed("silu");
    private static final String GELU_SOURCE = KernelSource.fixed("gelu");
    private static final String TANH_GELU_SOURCE = KernelSource.fixed("gelu_tanh");
    private static final KernelSource CAST = KernelSource.read("cast");
    private static final String CHANNELS_LAST_SOURCE = KernelSource.fixed("channels_last");
    private static final String STANDARD_LAYOUT_SOURCE = KernelSource.fixed("standard_layout");
    private static final String BFLOAT16_BITS_SOURCE = KernelSource.fixed("bfloat16_bits");

    private final PtNDManager modules;
    private final String longAttention;
    private final boolean oneDnnFloat32Linear;
    private final boolean packedBf16Linear;
    private final ConcurrentMap<String, PtSymbolBlock> loaded = new ConcurrentHashMap<>();

    /**
     * Kernels whose modules live under {@code owner}.
     *
     * <p>Long bf16 CPU attention is chunked unless {@code /proc/cpuinfo} lists AMX-BF16: the chunks were measured
     * only where they replace the fused kernel's float32 products. float32 CPU linears go through oneDNN on x86 CPUs
     * with AVX-512 from other vendors than Intel ({@link MontageEngine#mklSkipsAvx512}). bf16 linear weights are
     * packed for oneDNN where the CPU has bf16 instructions ({@link MontageEngine#cpuHasBf16}).
     *
     * @param owner a PyTorch-engine manager; the loaded modules live in a sub-manager of it and are
     *              released by {@link #close()} or when it closes
     * @throws IllegalArgumentException when {@code owner} belongs to another engine
     */
    public TorchScriptKernels(NDManager owner) {
        this(owner, MontageEngine.readCpuInfo());
    }

    private TorchScriptKernels(NDManager owner, String cpuInfo) {
        this(owner, MontageEngine.cpuHasAmx(cpuInfo) ? FUSED : CHUNK_SCORES, MontageEngine.mklSkipsAvx512(cpuInfo),
                MontageEngine.cpuHasBf16(cpuInfo));
    }

    /**
     * As the public constructor, with {@code chunkScores} score elements per chunk of long bf16 CPU attention, or
     * {@link #FUSED}, float32 CPU linears through oneDNN when {@code oneDnnFloat32Linear} is set (otherwise
     * {@code torch.linear}), and bf16 CPU linear weights packed for oneDNN when {@code packedBf16Linear} is set.
     */
    TorchScriptKernels(NDManager owner, long chunkScores, boolean oneDnnFloat32Linear, boolean packedBf16Linear) {
        if (!(owner instanceof PtNDManager)) {
            throw new IllegalArgumentException("TorchScript kernels need a PyTorch engine manager, got "
                    + owner.getClass().getName() + " of engine " + owner.getEngine().getEngineName());
        }
        modules = (PtNDManager) owner.newSubManager();
        modules.setName("montage-kernels");
        longAttention = chunkScores == FUSED ? null
                : LONG_ATTENTION.fill(Map.of("chunk_scores", chunkScores));
        this.oneDnnFloat32Linear = oneDnnFloat32Linear;
        this.packedBf16Linear = packedBf16Linear;
    }

    /**
     * {@inheritDoc}
     *
     * <p>On the CPU, with at most {@link #FEW_KEYS} keys, the scores are explicit: {@code q k^T} in the input dtype,
     * softmax of {@code scores + bias} in float32, probabilities rounded to the input dtype, times {@code v}. On the
     * AMD machine of BENCHMARKS.md a bf16 SDXL cross-attention layer took 25–32 ms this way against 37–43 ms fused
     * (JMH, 1024² shapes), and the bf16 golden noise prediction moved 0.014 from float32 (0.021 fused). The bias is
     * added in float32: a broadcast bf16 addition is PyTorch's slow path on that CPU.
     *
     * <p>bf16 attention over more keys without a bias (SDXL's self-attention, the VAE's mid-block attention) is
     * explicit too on the CPU, unless constructed with {@link #FUSED}, in chunks of query rows with at most
     * {@link #CHUNK_SCORES} score elements: without AMX, PyTorch's fused CPU kernel computes bf16 in float32 at a
     * third of the bf16 matrix rate. On the machine of BENCHMARKS.md a 1024² UNet self-attention layer took 300–470 ms
     * instead of 640–730 (level 1, 4096 tokens, 2 x 10 heads) and 36–47 instead of 81–89 (level 2), the 1024² VAE's
     * mid-block attention 1.6–1.8 s instead of 3.4. The scores are rounded to bf16 before the softmax, where the fused
     * kernel keeps them in float32, as diffusers' classic attention processor does in half precision. Everything
     * else, and every other device, uses {@code torch.scaled_dot_product_attention}.
     */
    @Override
    public NDArray scaledDotProductAttention(NDArray q, NDArray k, NDArray v, NDArray bias) {
        Objects.requireNonNull(q, "q");
        Objects.requireNonNull(k, "k");
        Objects.requireNonNull(v, "v");
        Shape keys = k.getShape();
        boolean cpu = q.getDevice().getDeviceType().equals(Device.Type.CPU);
        if (keys.get(keys.dimension() - 2) <= FEW_KEYS && cpu) {
            return bias == null ? run(FEW_KEYS_SOURCE, q, k, v) : run(FEW_KEYS_BIASED_SOURCE, q, k, v, bias);
        }
        if (bias == null) {
            return run(cpu && longAttention != null ? longAttention : SDPA_SOURCE, q, k, v);
        }
        return run(SDPA_BIASED_SOURCE, q, k, v, bias);
    }

    /**
     * {@inheritDoc}
     *
     * <p>{@code weight} and {@code bias} are converted to the dtype of {@code x} inside the kernel, so float32
     * parameters may be used with bf16 activations.
     *
     * @throws IllegalArgumentException when {@code groups} is not positive or {@code eps} is negative or not finite
     */
    @Override
    public NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, double eps) {
        return groupNorm(x, groups, weight, bias, eps, false);
    }

    /**
     * {@inheritDoc}
     *
     * <p>As {@link #groupNorm}; the activation overwrites the kernel's own normalised result, never {@code x}.
     */
    @Override
    public NDArray groupNormSilu(NDArray x, int groups, NDArray weight, NDArray bias, double eps) {
        return groupNorm(x, groups, weight, bias, eps, true);
    }

    private NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, double eps, boolean silu) {
        Objects.requireNonNull(x, "x");
        if (groups <= 0) {
            throw new IllegalArgumentException("group norm needs a positive group count, got " + groups);
        }
        if (!Double.isFinite(eps) || eps < 0) {
            throw new IllegalArgumentException("group norm needs a finite eps >= 0, got " + eps);
        }
        Map<String, Object> values = new HashMap<>();
        values.put("groups", groups);
        values.put("eps", eps);
        values.putAll(KernelSource.optionalTensor("weight", weight != null, "x.dtype"));
        values.putAll(KernelSource.optionalTensor("bias", bias != null, "x.dtype"));
        String source = (silu ? GROUP_NORM_SILU : GROUP_NORM).fill(values);
        return run(source, withoutNulls(x, weight, bias));
    }

    /**
     * {@inheritDoc}
     *
     * <p>Convolutions that are correct in every dtype go to DJL's {@code Conv2d.conv2d}; only bf16 ones with an
     * output channel count that is not a multiple of 16 run in float32 inside one kernel call and are rounded back:
     * PyTorch 2.7.1's oneDNN computes those wrongly on an AVX-512 CPU without AMX (measured on an AMD Zen 5: 16–35 %
     * relative error for 1–15 and 24 output channels, exact rounding for 16 and 32). In SDXL these are the UNet's and
     * the VAE's {@code conv_out} and the VAE's quant convolutions. On a GPU, cuDNN computes them in bf16.
     *
     * <p>float32 convolutions on a GPU are computed in float32: PyTorch lets cuDNN use TensorFloat-32 (10 bits of
     * mantissa) for them by default, which a float32 pipeline does not expect; its matrix products already default to
     * full float32.
     */
    @Override
    public NDArray conv2d(NDArray x, NDArray weight, NDArray bias, int stride, int padding) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(weight, "weight");
        if (x.getDevice().isGpu() && x.getDataType() == DataType.FLOAT32) {
            return conv2dWithoutTf32(x, weight, bias, stride, padding);
        }
        if (!convolvesInFloat32(x.getDevice(), dtypeOf(x), weight.getShape().get(0))) {
            return Conv2d.conv2d(x, weight, bias, new Shape(stride, stride), new Shape(padding, padding))
                    .singletonOrThrow();
        }
        return run(CONV2D_IN_FLOAT32.fill(convolutionValues(bias, stride, padding,
                Integer.toString(ScalarType.FLOAT.id()))), withoutNulls(x, weight, bias));
    }

    /** Whether {@link #conv2d} computes a convolution in float32 to work around oneDNN's bf16 kernels (CPU only). */
    static boolean convolvesInFloat32(Device device, ComputeDType dtype, long outChannels) {
        return dtype == ComputeDType.BFLOAT16 && !device.isGpu() && outChannels % SAFE_BF16_CONV_CHANNELS != 0;
    }

    /** A convolution through {@code torch._convolution} with TensorFloat-32 off; elsewhere as {@code conv2d}. */
    NDArray conv2dWithoutTf32(NDArray x, NDArray weight, NDArray bias, int stride, int padding) {
        return run(CONV2D_WITHOUT_TF32.fill(convolutionValues(bias, stride, padding, null)),
                withoutNulls(x, weight, bias));
    }

    private static Map<String, Object> convolutionValues(NDArray bias, int stride, int padding, String biasDType) {
        Map<String, Object> values = new HashMap<>();
        values.put("stride", stride);
        values.put("padding", padding);
        values.putAll(KernelSource.optionalTensor("b", bias != null, biasDType));
        return values;
    }

    /**
     * {@inheritDoc}
     *
     * <p>float32 on the CPU goes through oneDNN's inner product where MKL leaves AVX-512 unused (see the
     * constructor): MKL, which PyTorch uses for float32 products, picks its code by CPU vendor and ran only AVX2 code
     * on an AMD Zen 5, while oneDNN used its AVX-512 units; on the Zen 5 of BENCHMARKS.md SDXL's linears ran 1.7–2.2x
     * as fast, within 7e-6 of MKL's results. bf16 on the CPU, where these kernels pack bf16 weights, goes through
     * oneDNN's inner product for a packed weight and {@code torch.linear} for a plain one. Everything else is {@code torch.linear}, where a strided
     * view of more than two axes is slow in bf16 (PyTorch multiplies it batch by batch with a broadcast weight):
     * callers pass contiguous arrays.
     */
    @Override
    public NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(weight, "weight");
        if ((oneDnnFloat32Linear || packedBf16Linear) && onCpu(x)) {
            // asked once: the dtype is a native call, and a step runs hundreds of linears
            DataType type = x.getDataType();
            if (oneDnnFloat32Linear && type == DataType.FLOAT32) {
                return bias == null ? run(ONEDNN_LINEAR_NO_BIAS_SOURCE, x, weight)
                        : run(ONEDNN_LINEAR_SOURCE, x, weight, bias);
            }
            // DJL reports bf16 as UNKNOWN; the module multiplies any dtype, so nothing else needs telling apart here
            if (packedBf16Linear && type == DataType.UNKNOWN) {
                return bias == null ? run(PACKED_OR_PLAIN_LINEAR_NO_BIAS_SOURCE, x, weight)
                        : run(PACKED_OR_PLAIN_LINEAR_SOURCE, x, weight, bias);
            }
        }
        return (bias == null ? Linear.linear(x, weight) : Linear.linear(x, weight, bias)).singletonOrThrow();
    }

    /**
     * {@inheritDoc}
     *
     * <p>A bf16 weight on the CPU, where these kernels pack (CPUs with bf16 instructions), becomes an mkldnn-layout
     * tensor ({@code torch.ops.mkldnn._reorder_linear_weight}) that oneDNN's inner product uses as it is. On the AMD
     * Zen 5 of BENCHMARKS.md bf16 SDXL products took 3–23 % less time than {@code torch.linear}'s (2,048 x 640 → 640:
     * 2.39 against 3.12 ms), within one bf16 rounding of them, for every output count and intra-op thread count
     * tried (1–8). float32 weights stay plain: PyTorch 2.7.1 multiplies float32 weights packed with more than two
     * intra-op threads set wrongly (and with 33, 40, 48, 72, 80, 96, 112, 160, 200 or 288 outputs at two), errors
     * the size of the product.
     */
    @Override
    public NDArray prepareLinearWeight(NDArray weight) {
        Objects.requireNonNull(weight, "weight");
        return weight.getShape().dimension() == 2 && packsBf16(weight) ? run(ONEDNN_PACK_SOURCE, weight) : weight;
    }

    /** Whether {@code weight} is a bf16 CPU weight these kernels pack. */
    private boolean packsBf16(NDArray weight) {
        return packedBf16Linear && onCpu(weight) && weight.getDataType() == DataType.UNKNOWN
                && scalarTypeIdOf(ptArray(weight, "weight")) == ScalarType.BFLOAT16.id();
    }

    /**
     * {@inheritDoc}
     *
     * <p>bf16 arrays of four axes on the CPU become channels-last (NHWC in memory), which oneDNN's bf16 convolutions
     * take without reordering each input and result. On the AMD Zen 5 of BENCHMARKS.md the SDXL VAE decoder's 3x3
     * convolutions at 1024² ran 4–21 % faster so (128 channels at 1024²: 1.24 against 1.56 s; 256 at 512²: 0.54
     * against 0.64 s), where the UNet's smaller ones gained nothing consistent. Everything else is returned as it is.
     */
    @Override
    public NDArray convolutionLayout(NDArray x) {
        Objects.requireNonNull(x, "x");
        return x.getShape().dimension() == 4 && onCpu(x) && x.getDataType() == DataType.UNKNOWN
                && dtypeOf(x) == ComputeDType.BFLOAT16 ? run(CHANNELS_LAST_SOURCE, x) : x;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Always a new array, sharing the storage of {@code x} where that is laid out so already.
     */
    @Override
    public NDArray standardLayout(NDArray x) {
        return run(STANDARD_LAYOUT_SOURCE, Objects.requireNonNull(x, "x"));
    }

    /** The arguments of a kernel whose optional tensor parameters are declared only when given. */
    private static NDArray[] withoutNulls(NDArray... arrays) {
        return Stream.of(arrays).filter(Objects::nonNull).toArray(NDArray[]::new);
    }

    private static boolean onCpu(NDArray x) {
        return x.getDevice().getDeviceType().equals(Device.Type.CPU);
    }

    @Override
    public NDArray silu(NDArray x) {
        return run(SILU_SOURCE, Objects.requireNonNull(x, "x"));
    }

    @Override
    public NDArray gelu(NDArray x, boolean tanhApproximation) {
        return run(tanhApproximation ? TANH_GELU_SOURCE : GELU_SOURCE, Objects.requireNonNull(x, "x"));
    }

    @Override
    public NDArray zeros(NDManager manager, Shape shape, ComputeDType dtype) {
        Objects.requireNonNull(dtype, "dtype");
        if (dtype == ComputeDType.BFLOAT16) {
            try (NDArray f32 = manager.zeros(shape, DataType.FLOAT32)) {
                return cast(f32, dtype);
            }
        }
        return manager.zeros(shape, dtype == ComputeDType.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT32);
    }

    @Override
    public NDArray cast(NDArray x, ComputeDType dtype) {
        Objects.requireNonNull(dtype, "dtype");
        return run(CAST.fill(Map.of("dtype", ScalarType.of(dtype).id())), Objects.requireNonNull(x, "x"));
    }

    /**
     * A bf16 array, in memory of its own, whose elements have the bits of {@code bits}: a float16 array that holds
     * bf16 values, as a host reads stored bf16 bytes (DJL cannot be handed bf16). The bits are copied, not converted.
     */
    public NDArray bfloat16Bits(NDArray bits) {
        if (Objects.requireNonNull(bits, "bits").getDataType() != DataType.FLOAT16) {
            throw new IllegalArgumentException("bf16 bits come in a float16 array, got " + bits.getDataType());
        }
        return run(BFLOAT16_BITS_SOURCE, bits);
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException when the array is in none of the compute dtypes
     */
    @Override
    public ComputeDType dtypeOf(NDArray x) {
        // DJL's JNI reports every dtype it cannot map, bf16 included, as UNKNOWN; reading it is safe
        DataType reported = x.getDataType();
        if (reported == DataType.FLOAT32) {
            return ComputeDType.FLOAT32;
        }
        if (reported == DataType.FLOAT16) {
            return ComputeDType.FLOAT16;
        }
        if (reported == DataType.UNKNOWN
                && scalarTypeIdOf(ptArray(x, "x")) == ScalarType.BFLOAT16.id()) {
            return ComputeDType.BFLOAT16;
        }
        throw new IllegalArgumentException("array of DJL dtype " + reported + " and shape " + x.getShape()
                + " is in none of the compute dtypes " + Arrays.toString(ComputeDType.values()));
    }

    /** Releases the loaded modules; arrays returned earlier stay valid. */
    @Override
    public void close() {
        modules.close();
        loaded.clear();
    }

    /** How many kernel modules have been loaded: shows tests which calls ran TorchScript. */
    int loadedModules() {
        return loaded.size();
    }

    private long scalarTypeIdOf(PtNDArray x) {
        // an int result needs the IValue call; DJL's NDList call only returns tensors
        try (IValue arg = IValue.from(x); IValue id = IValueUtils.forward(module(DTYPE_SOURCE), new IValue[] {arg})) {
            return id.toLong();
        }
    }

    /** The source of a product over {@code x}, {@code w} and, when {@code bias} is set, {@code b}. */
    private static String linearSource(KernelSource product, boolean bias) {
        return product.fill(KernelSource.optionalTensor("b", bias, null));
    }

    /**
     * Runs the {@code forward} method of a module source that returns one tensor.
     *
     * <p>DJL's NDList call is used rather than its IValue call because only the former runs outside
     * {@code c10::InferenceMode}: inference tensors reject in-place updates outside that mode, and model code
     * does update kernel results in place.
     */
    private NDArray run(String source, NDArray... inputs) {
        PtSymbolBlock module = module(source);
        NDList args = new NDList(inputs.length);
        try (NDList aliases = new NDList()) {
            for (int i = 0; i < inputs.length; i++) {
                PtNDArray input = ptArray(inputs[i], "argument " + i);
                if (input.getName() == null) {
                    args.add(input);
                } else {
                    // DJL reads dicts, tuples and method names out of array names ("a.b", "x[]", ...);
                    // an unnamed alias of the same storage passes the tensor through unchanged
                    NDArray alias = input.stopGradient();
                    aliases.add(alias);
                    args.add(alias);
                }
            }
            return IValueUtils.forward(module, args, true).singletonOrThrow();
        }
    }

    private PtSymbolBlock module(String source) {
        if (!modules.isOpen()) {
            throw new IllegalStateException("the TorchScript kernels are closed");
        }
        return loaded.computeIfAbsent(source, this::load);
    }

    private PtSymbolBlock load(String source) {
        byte[] archive = TorchScriptArchive.withMethods(source);
        try {
            return JniUtils.loadModule(modules, new ByteArrayInputStream(archive), true, false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load a TorchScript kernel from memory", e);
        }
    }

    private static PtNDArray ptArray(NDArray array, String what) {
        if (array instanceof PtNDArray pt) {
            return pt;
        }
        throw new IllegalArgumentException("TorchScript kernels run on PyTorch arrays, but " + what + " is a "
                + array.getClass().getName());
    }
}

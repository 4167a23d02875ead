package dev.montage.runtime.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import java.util.Arrays;
import java.util.function.Function;

/**
 * Times the fused kernels against the DJL composites they replace, at SDXL-sized shapes; the numbers in
 * KERNELS.md come from here. Not a test: run it by hand with the test class path, e.g.
 * {@code java -cp <test class path> dev.montage.runtime.engine.KernelBenchmark [device]}.
 */
final class KernelBenchmark {
    private static final int WARMUP = 3;
    private static final int RUNS = 15;

    private KernelBenchmark() {
    }

    public static void main(String[] args) {
        String device = args.length > 0 ? args[0] : "cpu";
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of(device, "float32"))) {
            System.out.println(engine.describe());
            Kernels k = engine.kernels();
            NDManager m = engine.manager();
            // SDXL at 1024x1024, second UNet level: 32x32 tokens, 20 heads of 64, batch 2 for guidance
            NDArray q = m.randomNormal(new Shape(2, 20, 1024, 64));
            NDArray context = m.randomNormal(new Shape(2, 20, 77, 64));
            NDArray bias = m.zeros(new Shape(2, 1, 1024, 77));
            NDArray image = m.randomNormal(new Shape(2, 640, 64, 64));
            NDArray gamma = m.ones(new Shape(640));
            NDArray beta = m.zeros(new Shape(640));

            time(m, "self-attention 2x20x1024x64, DJL matMul+softmax fp32", q, x -> composite(x, x, x, null));
            time(m, "self-attention 2x20x1024x64, fused fp32", q, x -> k.scaledDotProductAttention(x, x, x, null));
            // what MontageEngine chooses per CPU: chunked explicit scores without AMX, the fused kernel with it
            try (TorchScriptKernels fused = new TorchScriptKernels(m, TorchScriptKernels.FUSED, false, false);
                    TorchScriptKernels chunked = new TorchScriptKernels(m, TorchScriptKernels.CHUNK_SCORES, false, false)) {
                NDArray q16 = k.cast(q, ComputeDType.BFLOAT16);
                time(m, "self-attention 2x20x1024x64, bf16 fused kernel", q16,
                        x -> fused.scaledDotProductAttention(x, x, x, null));
                time(m, "self-attention 2x20x1024x64, bf16 chunked scores", q16,
                        x -> chunked.scaledDotProductAttention(x, x, x, null));
            }
            time(m, "cross-attention + bias 1024x77, DJL composite fp32", q,
                    x -> composite(x, context, context, bias));
            time(m, "cross-attention + bias 1024x77, fused fp32", q,
                    x -> k.scaledDotProductAttention(x, context, context, bias));
            time(m, "group norm 2x640x64x64 /32, DJL composite fp32", image, x -> compositeGroupNorm(x, gamma, beta));
            time(m, "group norm 2x640x64x64 /32, fused fp32", image, x -> k.groupNorm(x, 32, gamma, beta, 1e-5));
            time(m, "group norm 2x640x64x64 /32, fused bf16", k.cast(image, ComputeDType.BFLOAT16),
                    x -> k.groupNorm(x, 32, gamma, beta, 1e-5));
            time(m, "silu 2x640x64x64, DJL x*sigmoid(x) fp32", image, x -> x.mul(Activation.sigmoid(x)));
            time(m, "silu 2x640x64x64, fused fp32", image, k::silu);
            NDArray tiny = m.ones(new Shape(4));
            time(m, "silu on 4 elements (call overhead), DJL", tiny, x -> x.mul(Activation.sigmoid(x)));
            time(m, "silu on 4 elements (call overhead), kernel", tiny, k::silu);
            NDArray a = m.randomNormal(new Shape(4096, 1280));
            NDArray w = m.randomNormal(new Shape(1280, 1280));
            NDArray wBf16 = k.cast(w, ComputeDType.BFLOAT16);
            double flops = 2.0 * 4096 * 1280 * 1280;
            double fp32 = time(m, "matMul 4096x1280 @ 1280x1280, DJL fp32", a, x -> x.matMul(w));
            double bf16 = time(m, "matMul 4096x1280 @ 1280x1280, DJL on bf16 arrays", k.cast(a, ComputeDType.BFLOAT16),
                    x -> x.matMul(wBf16));
            System.out.printf("matMul throughput: fp32 %.2f TFLOP/s, bf16 %.2f TFLOP/s%n", flops / fp32 / 1e9,
                    flops / bf16 / 1e9);
            // what the kernels choose per CPU for float32: oneDNN where MKL skips AVX-512 (other vendors than Intel)
            try (TorchScriptKernels mkl = new TorchScriptKernels(m, TorchScriptKernels.CHUNK_SCORES, false, false);
                    TorchScriptKernels oneDnn = new TorchScriptKernels(m, TorchScriptKernels.CHUNK_SCORES, true, false)) {
                double torchLinear = time(m, "linear 4096x1280 -> 1280 fp32, torch.linear (MKL)", a,
                        x -> mkl.linear(x, w, null));
                double innerProduct = time(m, "linear 4096x1280 -> 1280 fp32, oneDNN inner product", a,
                        x -> oneDnn.linear(x, w, null));
                System.out.printf("fp32 linear throughput: torch.linear %.2f TFLOP/s, oneDNN %.2f TFLOP/s%n",
                        flops / torchLinear / 1e9, flops / innerProduct / 1e9);
            }
        }
    }

    private static NDArray composite(NDArray q, NDArray k, NDArray v, NDArray bias) {
        NDArray scores = q.matMul(k.swapAxes(-1, -2)).div(Math.sqrt(q.getShape().get(3)));
        return (bias == null ? scores : scores.add(bias)).softmax(-1).matMul(v);
    }

    private static NDArray compositeGroupNorm(NDArray x, NDArray gamma, NDArray beta) {
        Shape shape = x.getShape();
        NDArray grouped = x.reshape(shape.get(0), 32, -1);
        NDArray centred = grouped.sub(grouped.mean(new int[] {2}, true));
        NDArray variance = centred.square().mean(new int[] {2}, true);
        Shape perChannel = new Shape(1, shape.get(1), 1, 1);
        return centred.div(variance.add(1e-5).sqrt()).reshape(shape).mul(gamma.reshape(perChannel))
                .add(beta.reshape(perChannel));
    }

    /** Median milliseconds of {@link #RUNS} runs, each in its own manager so intermediates are freed. */
    private static double time(NDManager parent, String label, NDArray input, Function<NDArray, NDArray> op) {
        double[] millis = new double[RUNS];
        for (int i = -WARMUP; i < RUNS; i++) {
            try (NDManager scope = parent.newSubManager()) {
                input.tempAttach(scope);
                long start = System.nanoTime();
                // reading one element waits for the result on asynchronous devices
                op.apply(input).flatten().get(0).toType(DataType.FLOAT32, false).getFloat();
                if (i >= 0) {
                    millis[i] = (System.nanoTime() - start) / 1e6;
                }
            }
        }
        Arrays.sort(millis);
        double median = millis[RUNS / 2];
        System.out.printf("%-60s %10.3f ms%n", label, median);
        return median;
    }
}

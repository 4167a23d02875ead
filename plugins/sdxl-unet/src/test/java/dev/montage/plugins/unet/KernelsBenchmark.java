package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH: the host's fused kernels against the DJL composites they replace, at the shapes of SDXL's UNet at 1024x1024
 * with classifier-free guidance (batch 2). Not a test; see BENCHMARKS.md for the command that runs it.
 *
 * <p>{@code impl}: {@code fused-float32} and {@code fused-bfloat16} call the host kernel on arrays of that dtype;
 * {@code djl-float32} is the composite of DJL ops (DJL cannot run the composite on bf16: its softmax aborts).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g", "-Dai.djl.offline=true"})
public class KernelsBenchmark {
    @Param({"fused-float32", "fused-bfloat16", "djl-float32"})
    public String impl;

    private MontageEngine engine;
    private Kernels kernels;
    /** Level 1 (640 channels, 10 heads of 64) self-attention over the 64x64 grid: L = S = 4096. */
    private NDArray level1;
    /** Level 2 (1280 channels, 20 heads) self-attention over the 32x32 grid: L = S = 1024. */
    private NDArray level2;
    /** Level 2 queries against the 77 text tokens. */
    private NDArray text;
    /** Level 2 queries against dummy + 2 subjects' tokens (4 + 2 x 16), with the layout's additive bias. */
    private NDArray subjects;
    private NDArray subjectBias;
    /** Level 1 activations for group norm: [2, 640, 64, 64]. */
    private NDArray image;
    private NDArray gamma;
    private NDArray beta;

    @Setup
    public void setUp() {
        engine = MontageEngine.start(EngineConfig.of("cpu", "float32"));
        kernels = engine.kernels();
        NDManager m = engine.manager();
        m.getEngine().setRandomSeed(1);
        level1 = input(m.randomNormal(new Shape(2, 10, 4096, 64)));
        level2 = input(m.randomNormal(new Shape(2, 20, 1024, 64)));
        text = input(m.randomNormal(new Shape(2, 20, 77, 64)));
        subjects = input(m.randomNormal(new Shape(2, 20, 36, 64)));
        // a subject box over half the positions; the rest sees only the dummy tokens
        float[] bias = new float[2 * 1024 * 36];
        for (int i = 0; i < bias.length; i++) {
            int position = i / 36 % 1024;
            int token = i % 36;
            bias[i] = (position < 512) == (token >= 4) ? 0f : -10000f;
        }
        subjectBias = input(m.create(bias, new Shape(2, 1, 1024, 36)));
        image = input(m.randomNormal(new Shape(2, 640, 64, 64)));
        gamma = m.randomNormal(new Shape(640));
        beta = m.randomNormal(new Shape(640));
    }

    @TearDown
    public void tearDown() {
        engine.close();
    }

    @Benchmark
    public float selfAttentionLevel1() {
        return attention(level1, level1, null);
    }

    @Benchmark
    public float selfAttentionLevel2() {
        return attention(level2, level2, null);
    }

    @Benchmark
    public float textCrossAttentionLevel2() {
        return attention(level2, text, null);
    }

    @Benchmark
    public float maskedSubjectAttentionLevel2() {
        return attention(level2, subjects, subjectBias);
    }

    @Benchmark
    public float groupNormLevel1() {
        try (NDManager scope = engine.manager().newSubManager()) {
            NDArray x = Scopes.borrow(image, scope);
            NDArray out = impl.startsWith("fused") ? kernels.groupNorm(x, 32, gamma, beta, 1e-5)
                    : compositeGroupNorm(x, Scopes.borrow(gamma, scope), Scopes.borrow(beta, scope));
            return first(out);
        }
    }

    private float attention(NDArray queries, NDArray keys, NDArray bias) {
        try (NDManager scope = engine.manager().newSubManager()) {
            NDArray q = Scopes.borrow(queries, scope);
            NDArray k = Scopes.borrow(keys, scope);
            NDArray b = bias == null ? null : Scopes.borrow(bias, scope);
            if (impl.startsWith("fused")) {
                return first(kernels.scaledDotProductAttention(q, k, k, b));
            }
            NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).div((float) Math.sqrt(q.getShape().get(3)));
            return first((b == null ? scores : scores.add(b)).softmax(-1).matMul(k));
        }
    }

    private static NDArray compositeGroupNorm(NDArray x, NDArray gamma, NDArray beta) {
        Shape shape = x.getShape();
        NDArray grouped = x.reshape(shape.get(0), 32, -1);
        NDArray centred = grouped.sub(grouped.mean(new int[] {2}, true));
        NDArray variance = centred.square().mean(new int[] {2}, true);
        Shape perChannel = new Shape(1, shape.get(1), 1, 1);
        return centred.div(variance.add(1e-5f).sqrt()).reshape(shape).mul(gamma.reshape(perChannel))
                .add(beta.reshape(perChannel));
    }

    /** The input in the benchmark's dtype. */
    private NDArray input(NDArray f32) {
        if (!impl.endsWith("bfloat16")) {
            return f32;
        }
        NDArray cast = kernels.cast(f32, ComputeDType.BFLOAT16);
        f32.close();
        return cast;
    }

    /** Reads one element, which also waits for devices that compute asynchronously. */
    private static float first(NDArray x) {
        return x.flatten().get(0).toType(DataType.FLOAT32, false).getFloat();
    }
}

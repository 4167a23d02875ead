package dev.montage.plugins.msdiffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.Box;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.TextEncoder;
import dev.montage.nn.Attention;
import dev.montage.nn.IpProjections;
import dev.montage.nn.DefaultAttention;
import dev.montage.nn.Weights;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.weights.CheckpointWeights;
import dev.montage.runtime.weights.RandomCheckpoint;
import dev.montage.runtime.weights.TensorDType;
import dev.montage.runtime.weights.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
 * JMH: one SDXL cross-attention layer at 1024x1024 (batch 2 for guidance, random weights of the real shapes), as
 * plain attention over the 77 text tokens and as MS-Diffusion's multi-subject attention over the text, 4 dummy and
 * {@code subjects} x 16 subject tokens. Every invocation is a later step of one generation: the context's keys and
 * values and the layout masks were made by the first. Not a test; see BENCHMARKS.md for the command.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g", "-Dai.djl.offline=true"})
public class CrossAttentionBenchmark {
    private static final int CONTEXT_DIM = 2048;
    private static final int TEXT_TOKENS = 77;
    private static final int DUMMY_TOKENS = 4;
    private static final int TOKENS_PER_SUBJECT = 16;

    /** UNet level: 1 is 640 channels, 10 heads, a 64x64 grid; 2 is 1280 channels, 20 heads, 32x32. */
    @Param({"1", "2"})
    public int level;

    @Param({"float32", "bfloat16"})
    public String dtype;

    /** 0 is plain attention over the text; 1..4 is multi-subject attention. */
    @Param({"0", "2"})
    public int subjects;

    private Path dir;
    private MontageEngine engine;
    private TensorSource layerWeights;
    private TensorSource adapterWeights;
    private NDManager weights;
    private Attention layer;
    private AttentionProcessor processor;
    private NDArray hidden;
    private EncoderContext context;
    private GenerationContext generation;
    private int grid;

    @Setup
    public void setUp() throws IOException {
        int channels = level == 1 ? 640 : 1280;
        int heads = channels / 64;
        grid = level == 1 ? 64 : 32;
        String name = "down_blocks." + level + ".attentions.0.transformer_blocks.0.attn2";
        dir = Files.createTempDirectory("montage-jmh");
        Map<String, long[]> shapes = new LinkedHashMap<>();
        new Attention(Weights.shapesInto(shapes), name, channels, heads, CONTEXT_DIM, null);
        List<AttentionLayerSpec> specs = List.of(new AttentionLayerSpec(name, channels, heads,
                CONTEXT_DIM));
        RandomCheckpoint.write(dir.resolve("layer.safetensors"), shapes, TensorDType.F16, 1);
        RandomCheckpoint.write(dir.resolve("adapter.safetensors"), IpProjections.weightShapes(specs),
                TensorDType.F16, 2);

        engine = MontageEngine.start(EngineConfig.of("cpu", dtype));
        ComputeDType compute = engine.computeDType();
        weights = engine.manager().newSubManager();
        layerWeights = TensorSource.open(dir.resolve("layer.safetensors"));
        adapterWeights = TensorSource.open(dir.resolve("adapter.safetensors"));
        layer = new Attention(Weights.loading(new CheckpointWeights(layerWeights, engine.device(), compute,
                engine.kernels()), weights, engine.kernels()), name, channels, heads, CONTEXT_DIM, engine.kernels());
        processor = subjects == 0 ? DefaultAttention.INSTANCE : MultiSubjectAttention.bind(new CheckpointWeights(
                adapterWeights, engine.device(), compute, engine.kernels()), specs, weights);

        NDManager m = engine.manager();
        m.getEngine().setRandomSeed(3);
        hidden = compute(m.randomNormal(new Shape(2, (long) grid * grid, channels)));
        int imageTokens = subjects == 0 ? 0 : DUMMY_TOKENS + subjects * TOKENS_PER_SUBJECT;
        NDArray tokens = compute(m.randomNormal(new Shape(2, TEXT_TOKENS + imageTokens, CONTEXT_DIM)));
        generation = new GenerationContext(GenerationRequest.builder("benchmark").size(1024, 1024).build());
        if (subjects > 0) {
            float[][][] boxes = new float[2][subjects][];
            for (int j = 0; j < subjects; j++) {
                boxes[0][j] = new float[4];
                boxes[1][j] = new Box((double) j / subjects, 0.2, (double) (j + 1) / subjects, 0.8).toArray();
            }
            context = new TestLayout(TEXT_TOKENS, DUMMY_TOKENS, TOKENS_PER_SUBJECT, boxes, boxes.length / 2, 0.6,
                    Optional.empty(), List.<TextEncoder.TokenSpan>of(), 0, Optional.empty()).split(tokens);
        } else {
            context = EncoderContext.text(tokens);
        }
        // the first call of a generation projects the context and uploads the masks; invocations are later steps
        layer();
    }

    @TearDown
    public void tearDown() throws IOException {
        if (processor instanceof MultiSubjectAttention multiSubject) {
            multiSubject.close();
        }
        weights.close();
        layerWeights.close();
        adapterWeights.close();
        engine.close();
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
    }

    @Benchmark
    public float layer() {
        try (NDManager scope = engine.manager().newSubManager()) {
            NDArray out = processor.forward(layer, Scopes.borrow(hidden, scope), context, grid, grid, generation);
            return out.flatten().get(0).toType(DataType.FLOAT32, false).getFloat();
        }
    }

    private NDArray compute(NDArray f32) {
        if (engine.computeDType() == ComputeDType.FLOAT32) {
            return f32;
        }
        NDArray cast = engine.kernels().cast(f32, engine.computeDType());
        f32.close();
        return cast;
    }
}

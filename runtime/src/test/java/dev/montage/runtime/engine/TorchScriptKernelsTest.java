package dev.montage.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import dev.montage.api.host.ComputeDType;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.HalfFloats;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Each kernel against a composite of plain DJL operations in float32, plus the bf16 and lifecycle contracts. */
class TorchScriptKernelsTest {
    private static final float TOLERANCE = 1e-5f;
    /** c10::MemoryFormat ids. */
    private static final int STANDARD = 0;
    private static final int CHANNELS_LAST = 2;

    private static MontageEngine engine;
    private static TorchScriptKernels kernels;
    private NDManager manager;

    @BeforeAll
    static void startEngine() {
        engine = MontageEngine.start(EngineConfig.of("cpu", "float32"));
        kernels = (TorchScriptKernels) engine.kernels();
        engine.manager().getEngine().setRandomSeed(7);
    }

    @AfterAll
    static void closeEngine() {
        engine.close();
    }

    @BeforeEach
    void newManager() {
        manager = engine.manager().newSubManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    /** Key counts on both sides of the explicit-scores path's limit. */
    static long[] keyCounts() {
        return new long[] {12, TorchScriptKernels.FEW_KEYS, TorchScriptKernels.FEW_KEYS + 1};
    }

    @ParameterizedTest
    @MethodSource("keyCounts")
    void attentionMatchesSoftmaxOfScaledScores(long keys) {
        NDArray q = manager.randomNormal(new Shape(2, 3, 16, 8));
        NDArray k = manager.randomNormal(new Shape(2, 3, keys, 8));
        NDArray v = manager.randomNormal(new Shape(2, 3, keys, 5));

        assertClose(referenceAttention(q, k, v, null), kernels.scaledDotProductAttention(q, k, v, null));
    }

    @ParameterizedTest
    @MethodSource("keyCounts")
    void attentionAddsTheBias(long keys) {
        NDArray q = manager.randomNormal(new Shape(2, 3, 16, 8));
        NDArray k = manager.randomNormal(new Shape(2, 3, keys, 8));
        NDArray v = manager.randomNormal(new Shape(2, 3, keys, 5));
        NDArray bias = layoutBias(keys);

        NDArray attended = kernels.scaledDotProductAttention(q, k, v, bias);

        assertClose(referenceAttention(q, k, v, bias), attended);
        NDArray unmasked = kernels.scaledDotProductAttention(q, k, v, null);
        assertTrue(attended.sub(unmasked).abs().max().getFloat() > 0.1f, "the bias changed nothing");
    }

    @ParameterizedTest
    @MethodSource("keyCounts")
    void bf16AttentionWithAFloat32BiasStaysWithinRoundingOfTheFloat32Result(long keys) {
        NDArray q = kernels.cast(manager.randomNormal(new Shape(2, 3, 16, 64)), ComputeDType.BFLOAT16);
        NDArray k = kernels.cast(manager.randomNormal(new Shape(2, 3, keys, 64)), ComputeDType.BFLOAT16);
        NDArray v = kernels.cast(manager.randomNormal(new Shape(2, 3, keys, 64)), ComputeDType.BFLOAT16);
        NDArray bias = layoutBias(keys);

        NDArray attended = kernels.scaledDotProductAttention(q, k, v, bias);

        assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(attended));
        NDArray expected = referenceAttention(kernels.cast(q, ComputeDType.FLOAT32),
                kernels.cast(k, ComputeDType.FLOAT32), kernels.cast(v, ComputeDType.FLOAT32), bias);
        float error = expected.sub(kernels.cast(attended, ComputeDType.FLOAT32)).abs().max().getFloat();
        assertTrue(error < 0.05f, "bf16 attention off by " + error);
    }

    @Test
    void bf16AttentionOverManyKeysIsTheSameInOneChunkOrManyAndStaysWithinRoundingOfTheFusedAndFloat32Results() {
        NDArray q = kernels.cast(manager.randomNormal(new Shape(2, 3, 50, 64)), ComputeDType.BFLOAT16);
        NDArray k = kernels.cast(manager.randomNormal(new Shape(2, 3, 200, 64)), ComputeDType.BFLOAT16);
        NDArray v = kernels.cast(manager.randomNormal(new Shape(2, 3, 200, 64)), ComputeDType.BFLOAT16);
        NDArray expected = referenceAttention(kernels.cast(q, ComputeDType.FLOAT32),
                kernels.cast(k, ComputeDType.FLOAT32), kernels.cast(v, ComputeDType.FLOAT32), null);
        // 7 query rows per chunk: seven full chunks and one of a single row
        try (TorchScriptKernels sevenRows = new TorchScriptKernels(manager, 2 * 3 * 200 * 7, false, false);
                TorchScriptKernels oneChunk = new TorchScriptKernels(manager, 2 * 3 * 200 * 50, false, false);
                TorchScriptKernels fused = new TorchScriptKernels(manager, TorchScriptKernels.FUSED, false, false)) {
            NDArray chunked = sevenRows.scaledDotProductAttention(q, k, v, null);

            assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(chunked));
            assertEquals(q.getShape(), chunked.getShape());
            NDArray chunked32 = kernels.cast(chunked, ComputeDType.FLOAT32);
            NDArray whole32 = kernels.cast(oneChunk.scaledDotProductAttention(q, k, v, null), ComputeDType.FLOAT32);
            assertEquals(0f, whole32.sub(chunked32).abs().max().getFloat(), 0.02f);
            NDArray fused32 = kernels.cast(fused.scaledDotProductAttention(q, k, v, null), ComputeDType.FLOAT32);
            assertEquals(0f, fused32.sub(chunked32).abs().max().getFloat(), 0.05f);
            float error = expected.sub(chunked32).abs().max().getFloat();
            assertTrue(error < 0.05f, "chunked bf16 attention off by " + error);
        }
    }

    /** A layout mask: every query sees only part of the keys, the rest get -10000. */
    private NDArray layoutBias(long keys) {
        NDArray bias = manager.zeros(new Shape(2, 1, 16, keys));
        bias.set(new NDIndex(":, :, :8, 6:"), -10000f);
        bias.set(new NDIndex(":, :, 8:, :6"), -10000f);
        return bias;
    }

    @Test
    void groupNormMatchesMeanAndVarianceOverEachGroup() {
        NDArray x = manager.randomNormal(2f, 3f, new Shape(2, 8, 5, 5), DataType.FLOAT32);
        NDArray weight = manager.randomNormal(new Shape(8));
        NDArray bias = manager.randomNormal(new Shape(8));

        assertClose(referenceGroupNorm(x, 4, weight, bias, 1e-5), kernels.groupNorm(x, 4, weight, bias, 1e-5));
        assertClose(referenceGroupNorm(x, 2, null, null, 1e-6), kernels.groupNorm(x, 2, null, null, 1e-6));
        assertClose(referenceGroupNorm(x, 8, null, bias, 0), kernels.groupNorm(x, 8, null, bias, 0));
    }

    @Test
    void groupNormUsesTheGivenEpsilon() {
        NDArray x = manager.randomNormal(new Shape(1, 4, 3, 3)).mul(0.1f);

        assertClose(referenceGroupNorm(x, 2, null, null, 0.5), kernels.groupNorm(x, 2, null, null, 0.5));
    }

    @Test
    void groupNormRejectsBadArgumentsBeforeTheyReachTheSource() {
        NDArray x = manager.ones(new Shape(1, 4, 2, 2));

        assertThrows(IllegalArgumentException.class, () -> kernels.groupNorm(x, 0, null, null, 1e-5));
        assertThrows(IllegalArgumentException.class, () -> kernels.groupNorm(x, 2, null, null, Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> kernels.groupNorm(x, 2, null, null, -1));
    }

    @Test
    void groupNormSiluIsTheActivatedNormInEveryDtypeAndLeavesItsInputAlone() {
        NDArray x = manager.randomNormal(1f, 2f, new Shape(2, 8, 4, 4), DataType.FLOAT32);
        NDArray weight = manager.randomNormal(new Shape(8));
        NDArray bias = manager.randomNormal(new Shape(8));
        float[] before = x.toFloatArray();

        assertArrayEquals(kernels.silu(kernels.groupNorm(x, 4, weight, bias, 1e-5)).toFloatArray(),
                kernels.groupNormSilu(x, 4, weight, bias, 1e-5).toFloatArray());
        assertArrayEquals(before, x.toFloatArray(), "the input was overwritten");
        NDArray bf16 = kernels.cast(x, ComputeDType.BFLOAT16);
        NDArray fused = kernels.groupNormSilu(bf16, 4, weight, bias, 1e-5);
        assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(fused));
        assertArrayEquals(
                kernels.cast(kernels.silu(kernels.groupNorm(bf16, 4, weight, bias, 1e-5)), ComputeDType.FLOAT32)
                        .toFloatArray(),
                kernels.cast(fused, ComputeDType.FLOAT32).toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> kernels.groupNormSilu(x, 0, null, null, 1e-5));
    }

    @Test
    void siluIsXTimesSigmoid() {
        NDArray x = manager.randomNormal(0f, 4f, new Shape(64), DataType.FLOAT32);

        assertClose(x.mul(Activation.sigmoid(x)), kernels.silu(x));
    }

    @Test
    void exactGeluUsesErf() {
        NDArray x = manager.randomNormal(0f, 3f, new Shape(64), DataType.FLOAT32);
        NDArray reference = x.mul(0.5f).mul(x.div(Math.sqrt(2)).erf().add(1));

        assertClose(reference, kernels.gelu(x, false));
    }

    @Test
    void tanhGeluUsesTheCubicApproximation() {
        NDArray x = manager.randomNormal(0f, 3f, new Shape(64), DataType.FLOAT32);
        NDArray inner = x.add(x.pow(3).mul(0.044715f)).mul(Math.sqrt(2 / Math.PI));
        NDArray reference = x.mul(0.5f).mul(inner.tanh().add(1));

        assertClose(reference, kernels.gelu(x, true));
    }

    @Test
    void bf16RoundTripKeepsRepresentableValuesAndRoundsToNearestEven() {
        float[] representable = {0f, 1f, -2f, 0.5f, 3.140625f, 1024f, -0.0078125f, 65280f};
        NDArray bf16 = kernels.cast(manager.create(representable), ComputeDType.BFLOAT16);

        assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(bf16));
        assertEquals(2L * representable.length, bf16.toByteBuffer().remaining(), "not 2 bytes per element");
        assertArrayEquals(representable, kernels.cast(bf16, ComputeDType.FLOAT32).toFloatArray());

        float[] values = manager.randomNormal(new Shape(256)).toFloatArray();
        float[] expected = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            expected[i] = HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(values[i]));
        }
        NDArray rounded = kernels.cast(kernels.cast(manager.create(values), ComputeDType.BFLOAT16),
                ComputeDType.FLOAT32);
        assertArrayEquals(expected, rounded.toFloatArray());
    }

    @Test
    void fp16ToBf16RoundsEveryHalfValueToNearestEven() {
        // how fp16 checkpoints become bf16 weights: every fp16 bit pattern (subnormals, infinities, NaNs included),
        // in a 3-d shape large enough for PyTorch to split the work between threads
        int repeats = 9;
        short[] halves = new short[65536 * repeats];
        for (int i = 0; i < halves.length; i++) {
            halves[i] = (short) (i * 40503);
        }
        Shape shape = new Shape(repeats, 256, 256);
        try (NDArray stored = manager.create(ByteBuffer.wrap(toBytes(halves)), shape, DataType.FLOAT16)) {
            NDArray bf16 = kernels.cast(stored, ComputeDType.BFLOAT16);

            assertEquals(shape, bf16.getShape());
            float[] widened = kernels.cast(bf16, ComputeDType.FLOAT32).toFloatArray();
            for (int i = 0; i < halves.length; i++) {
                float expected = HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(HalfFloats.toFloat(halves[i])));
                if (Float.floatToIntBits(expected) != Float.floatToIntBits(widened[i])) {
                    throw new AssertionError("fp16 0x" + Integer.toHexString(halves[i] & 0xFFFF) + " became "
                            + widened[i] + ", expected " + expected);
                }
            }
        }
    }

    @Test
    void bf16ConvolutionsOfEveryOutputWidthStayWithinRoundingOfTheFloat32Result() {
        // 4 is SDXL's UNet conv_out, 3 the VAE's; oneDNN's AVX-512 bf16 kernels without AMX got 1-15 and 24 wrong
        for (int out : new int[] {1, 3, 4, 8, 15, 16, 24, 32}) {
            for (int[] window : new int[][] {{3, 1, 1}, {1, 1, 0}, {3, 2, 1}}) {
                NDArray x = manager.randomNormal(new Shape(2, 32, 16, 16));
                NDArray weight = manager.randomNormal(new Shape(out, 32, window[0], window[0])).mul(0.2f);
                NDArray bias = manager.randomNormal(new Shape(out));
                NDArray exact = Conv2d.conv2d(bf16Rounded(x), bf16Rounded(weight),
                        bf16Rounded(bias), new Shape(window[1], window[1]), new Shape(window[2], window[2]))
                        .singletonOrThrow();
                NDArray bf16 = kernels.conv2d(kernels.cast(x, ComputeDType.BFLOAT16),
                        kernels.cast(weight, ComputeDType.BFLOAT16), kernels.cast(bias, ComputeDType.BFLOAT16),
                        window[1], window[2]);

                assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(bf16));
                float error = kernels.cast(bf16, ComputeDType.FLOAT32).sub(exact).abs().max().getFloat();
                float scale = exact.abs().max().getFloat();
                // one bf16 rounding of the result is 2^-8 relative; the wrong kernels were off by 16-35 %
                assertTrue(error <= scale / 128, out + " output channels, window " + Arrays.toString(window)
                        + ": max error " + error + " of " + scale);
            }
        }
    }

    @Test
    void onlyTheCpusBf16ConvolutionsOfAnUnsafeOutputWidthAreComputedInFloat32() {
        assertTrue(TorchScriptKernels.convolvesInFloat32(Device.cpu(), ComputeDType.BFLOAT16, 4));
        assertTrue(TorchScriptKernels.convolvesInFloat32(Device.cpu(), ComputeDType.BFLOAT16, 24));
        assertFalse(TorchScriptKernels.convolvesInFloat32(Device.cpu(), ComputeDType.BFLOAT16, 32));
        assertFalse(TorchScriptKernels.convolvesInFloat32(Device.cpu(), ComputeDType.FLOAT16, 4));
        assertFalse(TorchScriptKernels.convolvesInFloat32(Device.cpu(), ComputeDType.FLOAT32, 4));
        // oneDNN's fault is the CPU's; cuDNN computes every width in bf16
        assertFalse(TorchScriptKernels.convolvesInFloat32(Device.gpu(), ComputeDType.BFLOAT16, 4));
    }

    @Test
    void aBf16ConvolutionWithoutBiasStaysWithinRoundingOfTheFloat32Result() {
        NDArray x = manager.randomNormal(new Shape(1, 16, 8, 8));
        NDArray weight = manager.randomNormal(new Shape(3, 16, 3, 3)).mul(0.2f);
        NDArray exact = Conv2d.conv2d(bf16Rounded(x), bf16Rounded(weight), null, new Shape(1, 1), new Shape(1, 1))
                .singletonOrThrow();

        NDArray bf16 = kernels.conv2d(kernels.cast(x, ComputeDType.BFLOAT16),
                kernels.cast(weight, ComputeDType.BFLOAT16), null, 1, 1);

        float error = kernels.cast(bf16, ComputeDType.FLOAT32).sub(exact).abs().max().getFloat();
        float scale = exact.abs().max().getFloat();
        assertTrue(error <= scale / 128, "max error " + error + " of " + scale);
    }

    @Test
    void bf16ImagesTakeTheChannelsLastLayoutThroughConvolutionsAndComeBackToTheStandardOneUnchanged() throws Exception {
        NDArray x = kernels.cast(manager.randomNormal(new Shape(2, 32, 8, 6)), ComputeDType.BFLOAT16);
        NDArray weight = kernels.cast(manager.randomNormal(new Shape(16, 32, 3, 3)).mul(0.2f), ComputeDType.BFLOAT16);
        NDArray bias = kernels.cast(manager.randomNormal(new Shape(16)), ComputeDType.BFLOAT16);

        NDArray laidOut = kernels.convolutionLayout(x);
        assertNotSame(x, laidOut);
        assertTrue(contiguousIn(laidOut, CHANNELS_LAST) && !contiguousIn(x, CHANNELS_LAST));
        assertArrayEquals(floats(x), floats(laidOut));
        NDArray convolved = kernels.conv2d(laidOut, weight, bias, 1, 1);
        assertTrue(contiguousIn(convolved, CHANNELS_LAST), "a convolution keeps the layout");
        NDArray standard = kernels.standardLayout(convolved);
        assertTrue(contiguousIn(standard, STANDARD) && !contiguousIn(standard, CHANNELS_LAST));
        NDArray plain = kernels.conv2d(x, weight, bias, 1, 1);
        float[] expected = floats(plain);
        float[] actual = floats(standard);
        float scale = kernels.cast(plain, ComputeDType.FLOAT32).abs().max().getFloat();
        for (int i = 0; i < expected.length; i++) {
            // the two layouts may take different kernels: each result is one bf16 rounding of the exact one
            assertEquals(expected[i], actual[i], scale / 128, "element " + i);
        }

        // float32 images and bf16 arrays of other ranks keep their layout
        NDArray float32 = manager.randomNormal(new Shape(1, 4, 3, 3));
        assertSame(float32, kernels.convolutionLayout(float32));
        NDArray tokens = kernels.cast(manager.randomNormal(new Shape(2, 3, 4)), ComputeDType.BFLOAT16);
        assertSame(tokens, kernels.convolutionLayout(tokens));
    }

    /** Whether PyTorch calls {@code x} contiguous in memory format {@code format} (c10::MemoryFormat's id). */
    private boolean contiguousIn(NDArray x, int format) throws IOException {
        String source = "  def forward(self, x: Tensor) -> bool:\n    return torch.is_contiguous(x, memory_format="
                + format + ")\n";
        try (PtNDManager owner = (PtNDManager) manager.newSubManager()) {
            PtSymbolBlock module = JniUtils.loadModule(owner,
                    new ByteArrayInputStream(TorchScriptArchive.withMethods(source)), true, false);
            try (IValue arg = IValue.from((PtNDArray) x);
                    IValue contiguous = IValueUtils.forward(module, new IValue[] {arg})) {
                return contiguous.toBoolean();
            }
        }
    }

    private float[] floats(NDArray x) {
        return kernels.cast(x, ComputeDType.FLOAT32).toFloatArray();
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void float32LinearIsXTimesTheTransposedWeightPlusTheBiasThroughEitherBackend(boolean oneDnn) {
        // a transposed view: the oneDNN kernel must not assume contiguous input
        NDArray x = manager.randomNormal(new Shape(2, 5, 3, 8)).transpose(0, 2, 1, 3);
        NDArray weight = manager.randomNormal(new Shape(6, 8));
        NDArray bias = manager.randomNormal(new Shape(6));
        NDArray expected = x.matMul(weight.transpose());
        try (TorchScriptKernels chosen = new TorchScriptKernels(manager, TorchScriptKernels.CHUNK_SCORES, oneDnn, false)) {
            assertClose(expected, chosen.linear(x, weight, null));
            assertClose(expected.add(bias), chosen.linear(x, weight, bias));
            assertEquals(oneDnn ? 2 : 0, chosen.loadedModules(), "TorchScript modules behind the two calls");
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {40, 64, 96, 128, 320})
    void float32WeightsStayPlainAndOneDnnsProductIsRightAtEveryThreadCount(long outputs) {
        NDArray x = manager.randomNormal(new Shape(2, 7, 24));
        NDArray weight = manager.randomNormal(new Shape(outputs, 24));
        NDArray bias = manager.randomNormal(new Shape(outputs));
        try (TorchScriptKernels chosen = new TorchScriptKernels(manager, TorchScriptKernels.CHUNK_SCORES, true,
                true)) {
            // PyTorch 2.7.1 multiplies packed float32 weights wrongly with more than two threads
            assertSame(weight, chosen.prepareLinearWeight(weight));
            atThreadCounts(threads -> {
                assertClose(x.matMul(weight.transpose()).add(bias), chosen.linear(x, weight, bias));
                assertClose(x.matMul(weight.transpose()), chosen.linear(x, weight, null));
            });
        }
    }

    /** Runs {@code body} at 1 to 4 intra-op threads. */
    private static void atThreadCounts(IntConsumer body) {
        for (int threads = 1; threads <= 4; threads++) {
            int count = threads;
            TestEngine.withIntraOpThreads(count, () -> body.accept(count));
        }
    }

    @Test
    void weightsStayAsTheyAreWhereTorchLinearMultiplies() {
        NDArray weight = manager.randomNormal(new Shape(64, 4));
        try (TorchScriptKernels mkl = new TorchScriptKernels(manager, TorchScriptKernels.CHUNK_SCORES, false, false);
                TorchScriptKernels oneDnn = new TorchScriptKernels(manager, TorchScriptKernels.CHUNK_SCORES, true,
                        false)) {
            assertSame(weight, mkl.prepareLinearWeight(weight));
            NDArray bf16 = oneDnn.cast(weight, ComputeDType.BFLOAT16);
            assertSame(bf16, oneDnn.prepareLinearWeight(bf16), "packed a bf16 weight without being asked to");
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void bf16LinearIsTorchLinearsProductWithOrWithoutPackingKernels(boolean packing) {
        NDArray x = manager.randomNormal(new Shape(4, 32));
        NDArray weight = manager.randomNormal(new Shape(16, 32));
        NDArray bias = manager.randomNormal(new Shape(16));
        try (TorchScriptKernels chosen = new TorchScriptKernels(manager, TorchScriptKernels.CHUNK_SCORES, true,
                packing)) {
            NDArray x16 = chosen.cast(x, ComputeDType.BFLOAT16);
            NDArray weight16 = chosen.cast(weight, ComputeDType.BFLOAT16);
            NDArray bias16 = chosen.cast(bias, ComputeDType.BFLOAT16);
            int casts = chosen.loadedModules();

            // a plain weight (one the kernels did not pack) is torch.linear's, through the module or not
            NDArray product = chosen.linear(x16, weight16, bias16);

            assertEquals(casts + (packing ? 1 : 0), chosen.loadedModules(), "the linear module");
            assertEquals(ComputeDType.BFLOAT16, chosen.dtypeOf(product));
            try (TorchScriptKernels plain = new TorchScriptKernels(manager, TorchScriptKernels.CHUNK_SCORES, false,
                    false)) {
                assertArrayEquals(plain.cast(plain.linear(x16, weight16, bias16), ComputeDType.FLOAT32).toFloatArray(),
                        chosen.cast(product, ComputeDType.FLOAT32).toFloatArray());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {40, 64, 128, 320})
    void aPackedBf16WeightGivesThePlainWeightsProductWithinOneRoundingAtEveryThreadCount(long outputs) {
        NDArray x = manager.randomNormal(new Shape(2, 7, 96));
        NDArray weight = manager.randomNormal(new Shape(outputs, 96)).mul(0.1f);
        NDArray bias = manager.randomNormal(new Shape(outputs));
        try (TorchScriptKernels plain = new TorchScriptKernels(manager, TorchScriptKernels.CHUNK_SCORES, false, false);
                TorchScriptKernels packing = new TorchScriptKernels(manager, TorchScriptKernels.CHUNK_SCORES, false,
                        true)) {
            NDArray x16 = plain.cast(x, ComputeDType.BFLOAT16);
            NDArray weight16 = plain.cast(weight, ComputeDType.BFLOAT16);
            NDArray bias16 = plain.cast(bias, ComputeDType.BFLOAT16);
            NDArray packedHere = packing.prepareLinearWeight(weight16);
            assertNotSame(weight16, packedHere, "packed nothing");
            atThreadCounts(threads -> {
                // laid out at this count, and at the engine's
                for (NDArray packed : new NDArray[] {packing.prepareLinearWeight(weight16), packedHere}) {
                    for (NDArray b : new NDArray[] {bias16, null}) {
                        NDArray expected = plain.cast(plain.linear(x16, weight16, b), ComputeDType.FLOAT32);
                        NDArray actual = packing.cast(packing.linear(x16, packed, b), ComputeDType.FLOAT32);
                        // one bf16 rounding of the largest results: 8 significant bits
                        float bound = expected.abs().max().getFloat() / 128;
                        float error = actual.sub(expected).abs().max().getFloat();
                        assertTrue(error <= bound, threads + " threads: max error " + error + " over " + bound);
                    }
                }
            });
        }
    }

    @Test
    void publicKernelsPackBf16WeightsExactlyWhereTheCpuHasBf16Instructions() {
        try (TorchScriptKernels chosen = new TorchScriptKernels(manager)) {
            NDArray weight = chosen.cast(manager.randomNormal(new Shape(64, 8)), ComputeDType.BFLOAT16);

            assertEquals(MontageEngine.cpuHasBf16(MontageEngine.readCpuInfo()), chosen.prepareLinearWeight(weight)
                    != weight);
        }
    }

    @Test
    void publicKernelsTakeOneDnnForFloat32LinearsExactlyWhereMklSkipsAvx512() {
        try (TorchScriptKernels chosen = new TorchScriptKernels(manager)) {
            chosen.linear(manager.randomNormal(new Shape(3, 4)), manager.randomNormal(new Shape(2, 4)), null);

            assertEquals(MontageEngine.mklSkipsAvx512(MontageEngine.readCpuInfo()) ? 1 : 0, chosen.loadedModules());
        }
    }

    @Test
    void float32ConvolutionIsDjlsConvolution() {
        NDArray x = manager.randomNormal(new Shape(1, 8, 9, 9));
        NDArray weight = manager.randomNormal(new Shape(4, 8, 3, 3));

        NDArray expected = Conv2d.conv2d(x, weight, null, new Shape(2, 2), new Shape(1, 1))
                .singletonOrThrow();
        assertArrayEquals(expected.toFloatArray(), kernels.conv2d(x, weight, null, 2, 1).toFloatArray());
    }

    /**
     * The float32 convolution a GPU runs (cuDNN without TensorFloat-32) is {@code torch._convolution} with the
     * convolution's own arguments: on the CPU, where the flag means nothing, it gives DJL's convolution bit for bit,
     * with and without a bias, and the CPU's float32 path does not take it.
     */
    @Test
    void theGpusFloat32ConvolutionIsTheConvolutionWithItsArguments() {
        NDArray x = manager.randomNormal(new Shape(2, 8, 9, 9));
        NDArray weight = manager.randomNormal(new Shape(4, 8, 3, 3));
        NDArray bias = manager.randomNormal(new Shape(4));
        try (TorchScriptKernels own = new TorchScriptKernels(manager)) {
            own.conv2d(x, weight, bias, 2, 1);
            assertEquals(0, own.loadedModules(), "float32 on the CPU is DJL's convolution");

            for (NDArray b : new NDArray[] {bias, null}) {
                NDArray expected = Conv2d.conv2d(x, weight, b, new Shape(2, 2), new Shape(1, 1)).singletonOrThrow();
                assertArrayEquals(expected.toFloatArray(), own.conv2dWithoutTf32(x, weight, b, 2, 1).toFloatArray());
            }
        }
    }

    private NDArray bf16Rounded(NDArray x) {
        return kernels.cast(kernels.cast(x, ComputeDType.BFLOAT16), ComputeDType.FLOAT32);
    }

    private static byte[] toBytes(short[] values) {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * 2).order(ByteOrder.nativeOrder());
        bytes.asShortBuffer().put(values);
        return bytes.array();
    }

    @Test
    void bf16BitsHeldAsFloat16AreCopiedNotConverted() {
        // bf16 bits of 1.5, -2, the smallest subnormal and -infinity
        short[] bits = {0x3FC0, (short) 0xC000, 0x0001, (short) 0xFF80};
        NDArray half = manager.create(ByteBuffer.wrap(toBytes(bits)), new Shape(2, 2), DataType.FLOAT16);
        NDArray bf16 = kernels.bfloat16Bits(half);

        assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(bf16));
        assertEquals(new Shape(2, 2), bf16.getShape());
        assertArrayEquals(new float[] {1.5f, -2f, Float.intBitsToFloat(0x00010000), Float.NEGATIVE_INFINITY},
                kernels.cast(bf16, ComputeDType.FLOAT32).toFloatArray());
        assertEquals("bf16 bits come in a float16 array, got float32", assertThrows(IllegalArgumentException.class,
                () -> kernels.bfloat16Bits(manager.create(new float[] {1f}))).getMessage());
    }

    @Test
    void castsToFloat16AndBack() {
        float[] values = {0.5f, -3f, 1000f};
        NDArray half = kernels.cast(manager.create(values), ComputeDType.FLOAT16);

        assertEquals(DataType.FLOAT16, half.getDataType());
        assertEquals(ComputeDType.FLOAT16, kernels.dtypeOf(half));
        assertArrayEquals(values, kernels.cast(half, ComputeDType.FLOAT32).toFloatArray());
    }

    @Test
    void bf16MatMulThroughDjlIsCloseToFloat32() {
        NDArray a = manager.randomNormal(new Shape(32, 64));
        NDArray b = manager.randomNormal(new Shape(64, 16));
        NDArray exact = a.matMul(b);

        NDArray product = kernels.cast(a, ComputeDType.BFLOAT16).matMul(kernels.cast(b, ComputeDType.BFLOAT16));

        assertEquals(ComputeDType.BFLOAT16, kernels.dtypeOf(product));
        float error = kernels.cast(product, ComputeDType.FLOAT32).sub(exact).abs().max().getFloat();
        float scale = exact.abs().max().getFloat();
        assertTrue(error / scale < 2e-2f, "relative error " + error / scale);
    }

    @Test
    void resultsJoinTheFirstArgumentsManagerAndNothingElseStays() {
        NDManager other = engine.manager().newSubManager();
        try (other) {
            NDArray x = manager.randomNormal(new Shape(1, 4, 3, 3));
            NDArray weight = other.ones(new Shape(4));
            NDArray bias = other.zeros(new Shape(3, 3));
            // DJL would read dotted names as dict keys; the kernels must pass such arrays as plain tensors
            x.setName("down.0.norm1.input");
            weight.setName("down.0.norm1.weight");
            bias.setName("mask[]");
            int ownBefore = manager.getManagedArrays().size();
            int otherBefore = other.getManagedArrays().size();

            List<NDArray> results = new ArrayList<>();
            results.add(kernels.groupNorm(x, 2, weight, null, 1e-5));
            results.add(kernels.silu(x));
            results.add(kernels.gelu(x, false));
            results.add(kernels.cast(x, ComputeDType.BFLOAT16));
            results.add(kernels.scaledDotProductAttention(x, x, x, bias));
            kernels.dtypeOf(results.get(3));

            for (NDArray result : results) {
                assertSame(manager, result.getManager());
            }
            assertEquals(ownBefore + results.size(), manager.getManagedArrays().size());
            assertEquals(otherBefore, other.getManagedArrays().size());
            assertEquals("down.0.norm1.weight", weight.getName());
        }
    }

    @Test
    void resultsAcceptInPlaceUpdates() {
        NDArray x = manager.ones(new Shape(4));

        NDArray y = kernels.silu(x).addi(1);

        assertClose(x.mul(Activation.sigmoid(x)).add(1), y);
    }

    @Test
    void dtypeOfRejectsNonComputeTypes() {
        NDArray ints = manager.create(new int[] {1, 2});

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> kernels.dtypeOf(ints));
        assertTrue(e.getMessage().contains("int32"), e.getMessage());
    }

    @Test
    void closedKernelsRefuseWork() {
        TorchScriptKernels own = new TorchScriptKernels(manager);
        NDArray x = manager.ones(new Shape(2));
        own.silu(x);

        own.close();

        assertThrows(IllegalStateException.class, () -> own.silu(x));
    }

    @Test
    void archivesHoldTheFourStoredEntries() throws IOException {
        byte[] archive = TorchScriptArchive.withMethods("  def forward(self, x: Tensor) -> Tensor:\n    return x\n");

        List<String> names = new ArrayList<>();
        try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(archive))) {
            for (ZipEntry entry = zip.getNextEntry(); entry != null; entry = zip.getNextEntry()) {
                assertEquals(ZipEntry.STORED, entry.getMethod(), entry.getName());
                names.add(entry.getName());
            }
        }
        assertEquals(List.of("archive/version", "archive/constants.pkl", "archive/data.pkl",
                "archive/code/__torch__.py"), names);
    }

    private static NDArray referenceAttention(NDArray q, NDArray k, NDArray v, NDArray bias) {
        long headDim = q.getShape().get(q.getShape().dimension() - 1);
        NDArray scores = q.matMul(k.swapAxes(-1, -2)).div(Math.sqrt(headDim));
        if (bias != null) {
            scores = scores.add(bias);
        }
        return scores.softmax(-1).matMul(v);
    }

    private static NDArray referenceGroupNorm(NDArray x, int groups, NDArray weight, NDArray bias, double eps) {
        Shape shape = x.getShape();
        long channels = shape.get(1);
        NDArray grouped = x.reshape(shape.get(0), groups, -1);
        NDArray centred = grouped.sub(grouped.mean(new int[] {2}, true));
        NDArray variance = centred.square().mean(new int[] {2}, true);
        NDArray normalised = centred.div(variance.add(eps).sqrt()).reshape(shape);
        Shape perChannel = new Shape(1, channels, 1, 1);
        if (weight != null) {
            normalised = normalised.mul(weight.reshape(perChannel));
        }
        return bias == null ? normalised : normalised.add(bias.reshape(perChannel));
    }

    private static void assertClose(NDArray expected, NDArray actual) {
        assertEquals(expected.getShape(), actual.getShape());
        assertEquals(DataType.FLOAT32, actual.getDataType());
        float difference = expected.sub(actual).abs().max().getFloat();
        assertTrue(difference <= TOLERANCE, "max difference " + difference);
    }
}

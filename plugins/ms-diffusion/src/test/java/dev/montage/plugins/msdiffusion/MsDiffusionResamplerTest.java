package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.TorchCheckpointSource;
import dev.montage.runtime.weights.TorchCheckpointWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Behaviour of the resampler on the tiny golden model: dropped grounding, batching, memory, errors, factory. */
class MsDiffusionResamplerTest {
    private static FolderComponentContext context;
    private static MsDiffusionResampler resampler;
    private static GroundingResampler staged;

    @TempDir
    Path temp;

    @BeforeAll
    static void load() {
        Path config = Golden.model().resolve("resampler_config.json");
        context = TestContext.golden(TestEngine.engine(), config);
        resampler = (MsDiffusionResampler) new MsDiffusionResamplerFactory().create(context);
        staged = new GroundingResampler(new MsAdapterCheckpoint(context.checkpoint("ms_adapter")).imageProj(),
                ResamplerConfig.read(config), context.manager(), context.kernels(), context.dtype());
    }

    @AfterAll
    static void close() {
        if (context != null) {
            context.close();
        }
    }

    @Test
    void droppedGroundingUsesTheLearnedQueriesForThatSubjectOnly() {
        try (GoldenCase c = GoldenCase.open("two_subjects_ddim"); NDManager m = TestEngine.manager().newSubManager()) {
            Map<String, float[]> kept = run(staged, m, c, new boolean[] {false, false});
            Map<String, float[]> dropped = run(staged, m, c, new boolean[] {true, false});
            int q = staged.config().numQueries() * staged.config().dim();
            int out = staged.config().numQueries() * staged.config().outputDim();

            float[] learned = new MsAdapterCheckpoint(context.checkpoint("ms_adapter")).imageProj()
                    .get("grounding_latents", m).toFloatArray();
            assertArrayEquals(learned, slice(dropped.get("latents_in"), 0, q));
            assertArrayEquals(slice(kept.get("latents_in"), 1, q), slice(dropped.get("latents_in"), 1, q));
            // the grounding queries are still computed (and reported) before the drop
            assertArrayEquals(kept.get("latent_norm_out"), dropped.get("latent_norm_out"));

            double other = GoldenTensors.maxAbsDiff(slice(kept.get("out"), 1, out), slice(dropped.get("out"), 1, out));
            double own = GoldenTensors.maxAbsDiff(slice(kept.get("out"), 0, out), slice(dropped.get("out"), 0, out));
            System.out.printf("drop grounding: subject 0 output changed by %.3g, subject 1 by %.3g%n", own, other);
            assertTrue(other <= 1e-6, "the other subject's tokens changed by " + other);
            assertTrue(own > 1e-2, "dropping the grounding changed the subject's tokens only by " + own);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 5, 8})
    void aBatchEqualsOneSubjectAtATime(int n) {
        Random random = new Random(42 + n);
        ResamplerConfig config = staged.config();
        int tokens = 65;
        boolean[] drop = new boolean[n];
        for (int i = 0; i < n; i++) {
            drop[i] = i % 3 == 2;
        }
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray image = m.create(gaussian(random, n * tokens * config.embeddingDim()),
                    new Shape(n, tokens, config.embeddingDim()));
            NDArray phrases = m.create(gaussian(random, n * config.phraseEmbeddingsDim()),
                    new Shape(n, config.phraseEmbeddingsDim()));
            NDArray boxes = m.create(randomBoxes(random, n), new Shape(n, 4));
            NDArray batched = resampler.resample(m, image, phrases, boxes, drop);
            assertEquals(new Shape(n, resampler.tokensPerSubject(), resampler.outputDim()), batched.getShape());
            double worst = 0;
            for (int i = 0; i < n; i++) {
                NDArray single = resampler.resample(m, image.get(i).expandDims(0), phrases.get(i).expandDims(0),
                        boxes.get(i).expandDims(0), new boolean[] {drop[i]});
                worst = Math.max(worst, GoldenTensors.maxAbsDiff(batched.get(i).toFloatArray(), single.toFloatArray()));
            }
            System.out.printf("%d subjects batched vs one by one: max-abs difference %.3g%n", n, worst);
            assertTrue(worst <= 1e-5, "batched and single results differ by " + worst);
        }
    }

    @Test
    void resamplingIsDeterministicAndLeavesNoArraysBehind() {
        try (GoldenCase c = GoldenCase.open("two_subjects_ddim")) {
            try (NDManager warmUp = TestEngine.manager().newSubManager()) {
                // kernels are compiled on first use and stay cached for the engine's lifetime
                resampler.resample(warmUp, c.imageEmbeds(warmUp), c.phraseEmbeds(warmUp), c.boxes(warmUp),
                        new boolean[] {true, false});
            }
            int engineArrays = TestEngine.manager().getManagedArrays().size();
            int weightArrays = context.manager().getManagedArrays().size();
            try (NDManager m = TestEngine.manager().newSubManager()) {
                NDArray image = c.imageEmbeds(m);
                NDArray phrases = c.phraseEmbeds(m);
                NDArray boxes = c.boxes(m);
                int inputs = m.getManagedArrays().size();
                NDArray a = resampler.resample(m, image, phrases, boxes, new boolean[] {true, false});
                NDArray b = resampler.resample(m, image, phrases, boxes, new boolean[] {true, false});
                resampler.dummyTokens(m);
                assertArrayEquals(a.toFloatArray(), b.toFloatArray());
                assertEquals(inputs + 3, m.getManagedArrays().size(), "only the returned arrays stay");
            }
            assertEquals(engineArrays, TestEngine.manager().getManagedArrays().size());
            assertEquals(weightArrays, context.manager().getManagedArrays().size());
        }
    }

    @Test
    void dummyTokensAreACopyOfTheCheckpointParameter() {
        try (GoldenCase c = GoldenCase.open("single_subject_euler");
                NDManager m = TestEngine.manager().newSubManager()) {
            NDArray first = resampler.dummyTokens(m);
            assertEquals(new Shape(1, 4, resampler.outputDim()), first.getShape());
            float[] values = first.toFloatArray();
            first.close();
            assertArrayEquals(values, resampler.dummyTokens(m).toFloatArray());
            // the golden image token sequence starts with the dummy tokens, unchanged
            assertArrayEquals(Arrays.copyOf(c.tensors.floats("image_prompt_embeds"), values.length), values);
        }
    }

    @Test
    void inputsOfTheWrongShapeAreRejectedByName() {
        ResamplerConfig config = staged.config();
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray image = m.zeros(new Shape(2, 65, config.embeddingDim()));
            NDArray phrases = m.zeros(new Shape(2, config.phraseEmbeddingsDim()));
            NDArray boxes = m.zeros(new Shape(2, 4));
            boolean[] drop = new boolean[2];
            assertMessage("image embeddings must be [N, tokens, 32]", () -> resampler.resample(m,
                    m.zeros(new Shape(2, 65, 31)), phrases, boxes, drop));
            assertMessage("phrase embeddings must be [2, 32]", () -> resampler.resample(m, image,
                    m.zeros(new Shape(1, 32)), boxes, drop));
            assertMessage("boxes must be [2, 4]", () -> resampler.resample(m, image, phrases,
                    m.zeros(new Shape(2, 2, 4)), drop));
            assertMessage("dropGrounding needs one flag per subject (2), got 1", () -> resampler.resample(m, image,
                    phrases, boxes, new boolean[1]));
        }
    }

    @Test
    void factoryIsRegisteredAndReadsTheAdapterConfigurationToo() {
        ComponentFactory<?> factory = ServiceLoader.load(ComponentFactory.class).stream()
                .map(ServiceLoader.Provider::get)
                .filter(f -> f instanceof MsDiffusionResamplerFactory)
                .findFirst().orElseThrow();
        assertEquals(ComponentKind.SUBJECT_RESAMPLER, factory.kind());
        assertEquals("ms-diffusion", factory.id());
        try (FolderComponentContext adapterConfig = TestContext.golden(TestEngine.engine(),
                Golden.model().resolve("ms_adapter_config.json"));
                GoldenCase c = GoldenCase.open("single_subject_euler");
                NDManager m = TestEngine.manager().newSubManager()) {
            SubjectResampler fromAdapterConfig = (SubjectResampler) factory.create(adapterConfig);
            assertEquals(4, fromAdapterConfig.tokensPerSubject());
            assertEquals(64, fromAdapterConfig.outputDim());
            c.assertClose("resampler_out", fromAdapterConfig.resample(m, c.imageEmbeds(m), c.phraseEmbeds(m),
                    c.boxes(m), new boolean[1]));
        }
    }

    @Test
    void withoutAConfigurationThePublishedSizesAreExpected() {
        try (FolderComponentContext noConfig = TestContext.golden(TestEngine.engine(), null)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new MsDiffusionResamplerFactory().create(noConfig));
            assertTrue(e.getMessage().contains("built-in configuration of the published MS-Diffusion SDXL "
                    + "checkpoint (set 'resampler_config'"), e.getMessage());
            assertTrue(e.getMessage().contains("layers.3.0.to_q.weight"), e.getMessage());
        }
    }

    @Test
    void aTensorOfTheWrongShapeIsNamed() throws IOException {
        String message = createFromVariant(root -> imageProj(root).compute("proj_in.weight",
                (name, t) -> reshaped((RawTensor) t, 16, 64)));
        assertTrue(message.contains("tensor 'proj_in.weight' has shape [16, 64], expected [32, 32]"), message);
        assertTrue(message.contains("resampler_config.json"), message);
    }

    @Test
    void missingAndUnexpectedTensorsAreNamed() throws IOException {
        String message = createFromVariant(root -> {
            Map<String, Object> proj = imageProj(root);
            proj.remove("norm_out.bias");
            proj.put("latents", proj.get("grounding_latents"));
        });
        assertTrue(message.contains("1 missing [norm_out.bias]"), message);
        assertTrue(message.contains("1 unexpected [latents]"), message);
    }

    @Test
    void dummyTokensAreRequiredWithTheOutputWidth() throws IOException {
        String missing = createFromVariant(root -> root.remove("dummy_image_tokens"));
        assertTrue(missing.contains("is not an MS-Diffusion adapter checkpoint: no 'dummy_image_tokens' tensor"),
                missing);
        String wrongWidth = createFromVariant(root -> root.compute("dummy_image_tokens",
                (name, t) -> new TorchCheckpointWriter.Parameter(reshaped((RawTensor) t, 1, 8, 32))));
        assertTrue(wrongWidth.contains("tensor 'dummy_image_tokens' has shape [1, 8, 32], expected "
                + "[1, num_dummy_tokens, 64]"), wrongWidth);
    }

    /** Writes the golden checkpoint with an edit and returns the message of the factory's refusal. */
    private String createFromVariant(Consumer<Map<String, Object>> edit) throws IOException {
        Map<String, Object> root;
        try (TorchCheckpointSource golden = TorchCheckpointSource.open(Golden.model().resolve("ms_adapter.bin"))) {
            root = deepCopy(golden.root());
            edit.accept(root);
            TorchCheckpointWriter.write(temp.resolve("ms_adapter.bin"), root);
        }
        try (FolderComponentContext variant = TestContext.of(TestEngine.engine(),
                temp.resolve("ms_adapter.bin"), Golden.model().resolve("resampler_config.json"))) {
            return assertThrows(IllegalArgumentException.class,
                    () -> new MsDiffusionResamplerFactory().create(variant)).getMessage();
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> deepCopy(Object node) {
        Map<String, Object> copy = new LinkedHashMap<>();
        ((Map<String, Object>) node).forEach((k, v) -> copy.put(k, v instanceof Map ? deepCopy(v) : v));
        return copy;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> imageProj(Map<String, Object> root) {
        return (Map<String, Object>) root.get("image_proj");
    }

    /** The same bytes under another shape of the same element count. */
    private static RawTensor reshaped(RawTensor t, long... shape) {
        return new RawTensor(t.name(), t.dtype(), shape, t.data());
    }

    private static Map<String, float[]> run(GroundingResampler model, NDManager m, GoldenCase c, boolean[] drop) {
        Map<String, float[]> stages = new HashMap<>();
        NDArray out = model.forward(m, c.imageEmbeds(m), c.phraseEmbeds(m), c.boxes(m), drop,
                (stage, value) -> stages.put(stage, value.toFloatArray()));
        stages.put("out", out.toFloatArray());
        return stages;
    }

    private static float[] slice(float[] rows, int row, int rowLength) {
        return Arrays.copyOfRange(rows, row * rowLength, (row + 1) * rowLength);
    }

    private static float[] gaussian(Random random, int count) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    private static float[] randomBoxes(Random random, int n) {
        float[] boxes = new float[n * 4];
        for (int i = 0; i < n; i++) {
            float x0 = random.nextFloat() * 0.5f;
            float y0 = random.nextFloat() * 0.5f;
            boxes[4 * i] = x0;
            boxes[4 * i + 1] = y0;
            boxes[4 * i + 2] = x0 + 0.1f + random.nextFloat() * 0.4f;
            boxes[4 * i + 3] = y0 + 0.1f + random.nextFloat() * 0.4f;
        }
        return boxes;
    }

    private static void assertMessage(String expected, Executable call) {
        String message = assertThrows(IllegalArgumentException.class, call).getMessage();
        assertTrue(message.contains(expected), message);
    }
}

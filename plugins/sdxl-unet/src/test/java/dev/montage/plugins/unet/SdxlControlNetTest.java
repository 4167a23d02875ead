package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.DenoisingModel.ControlResiduals;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.Options;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.RandomTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.LocalModelFolder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The ControlNet's layout, factory, input checks, context, channel order, dtype and memory use. */
class SdxlControlNetTest {
    private static SdxlControlNet controlNet;

    @BeforeAll
    static void load() {
        controlNet = GoldenModel.controlNet("canny");
    }

    @AfterAll
    static void close() {
        if (controlNet != null) {
            controlNet.close();
        }
    }

    @Test
    void weightLayoutIsTheGoldenCheckpoint() {
        ModelFolder folder = GoldenModel.controlNetFolder();
        ModelConfig unet = TestEngine.folder(Golden.model().resolve("unet")).config();
        Map<String, Map<String, long[]>> layout = new SdxlControlNetFactory().weightShapes(Map.of(
                "controlnet", folder.config(), "unet", unet, "controlnet.depth", folder.config()));
        assertEquals(List.of("controlnet", "controlnet.depth"), layout.keySet().stream().sorted().toList());
        Map<String, long[]> shapes = layout.get("controlnet");
        ModelWeights weights = folder.weights();
        assertEquals(weights.names(), shapes.keySet());
        shapes.forEach((name, shape) -> assertArrayEquals(weights.shape(name), shape, name));
        assertEquals(242, shapes.size());
    }

    @Test
    void theFactoryFindsTheTypesFolderOrTheGenericOne() {
        Path folder = Golden.model().resolve("controlnet");
        SdxlControlNetFactory factory = new SdxlControlNetFactory();
        try (SdxlControlNet own = (SdxlControlNet) factory.create(context(Map.of("controlnet.depth", folder),
                "depth")); SdxlControlNet generic = (SdxlControlNet) factory.create(
                        context(Map.of("controlnet", folder), "pose"))) {
            assertEquals("depth", own.type());
            assertEquals("pose", generic.type());
        }
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> factory.create(context(Map.of(), "canny")));
        assertEquals("no ControlNet weights: configure model 'controlnet.canny' (profile controlnets.canny, or "
                + "model=DIR in the control)", none.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> factory.create(context(Map.of("controlnet",
                folder), null))).getMessage().startsWith("options.type: not set and without default"));
        assertEquals(List.of(Conditioner.CONTROL_TYPE), factory.options(), "the type the host gives is declared");
    }

    @Test
    void inputsThatDoNotFitAreRefusedWithTheExpectedShape() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput input = randomInput(m, new Random(3), 77);
            IllegalArgumentException image = assertThrows(IllegalArgumentException.class, () -> controlNet.residuals(m,
                    input, m.zeros(new Shape(2, 3, 32, 32)), 1, GoldenModel.context(1)));
            assertEquals("ControlNet 'canny': control image must be (2, 3, 64, 64) for latents (2, 4, 8, 8), got "
                    + "(2, 3, 32, 32)", image.getMessage());
            DenoisingInput narrow = new DenoisingInput(input.latents(), 1, EncoderContext.text(m.zeros(new Shape(2, 77, 32))),
                    input.pooled(), input.timeIds(), null);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> controlNet.residuals(m, narrow,
                    m.zeros(new Shape(2, 3, 64, 64)), 1, GoldenModel.context(1))).getMessage()
                    .contains("context must be [2, S, 64]"));
        }
    }

    @Test
    void theImageTokensOfTheFullContextChangeTheResidualsAndScaleZeroGivesZeros() {
        Random random = new Random(5);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput full = randomInput(m, random, 85);
            NDArray image = m.randomUniform(0, 1, new Shape(2, 3, 64, 64));
            DenoisingInput text = new DenoisingInput(full.latents(), full.timestep(),
                    EncoderContext.text(full.context().text().get(new NDIndex(":, :77"))), full.pooled(), full.timeIds(), null);
            ControlResiduals withImageTokens = controlNet.residuals(m, full, image, 0.8f, GoldenModel.context(1));
            ControlResiduals textOnly = controlNet.residuals(m, text, image, 0.8f, GoldenModel.context(1));
            // down.0 .. down.3 come before the first cross-attention, down.4 and down.5 after it
            for (int j = 0; j < 4; j++) {
                assertArrayEquals(textOnly.down().get(j).toFloatArray(), withImageTokens.down().get(j).toFloatArray());
            }
            double change = GoldenTensors.maxAbsDiff(textOnly.down().get(5).toFloatArray(),
                    withImageTokens.down().get(5).toFloatArray());
            System.out.printf("ControlNet residual down.5: full vs text-only context differ by %.3g%n", change);
            assertTrue(change > 1e-3);
            ControlResiduals off = controlNet.residuals(m, full, image, 0f, GoldenModel.context(1));
            assertEquals(0f, off.mid().abs().max().getFloat());
        }
    }

    @Test
    void preparingProjectsTheContextSoTheFirstCallAddsOnlyItsResiduals() {
        Random random = new Random(6);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput input = randomInput(m, random, 77);
            NDArray image = m.randomUniform(0, 1, new Shape(2, 3, 64, 64));
            ControlResiduals unprepared = controlNet.residuals(m, input, image, 1, GoldenModel.context(1));
            GenerationContext ctx = GoldenModel.context(1);
            int before = m.getManagedArrays().size();
            controlNet.prepare(input.context(), ctx);
            int prepared = m.getManagedArrays().size() - before;
            assertTrue(prepared > 0 && prepared % 2 == 0, "keys and values of the cross-attentions: " + prepared);
            ControlResiduals first = controlNet.residuals(m, input, image, 1, ctx);
            assertEquals(before + prepared + first.down().size() + 1, m.getManagedArrays().size(),
                    "the first call adds its residuals");
            assertArrayEquals(unprepared.mid().toFloatArray(), first.mid().toFloatArray());
        }
    }

    @Test
    void aBgrNetworkSeesTheChannelsFlipped() {
        ModelFolder golden = GoldenModel.controlNetFolder();
        Map<String, Object> values = new LinkedHashMap<>(golden.config().asMap());
        values.put("controlnet_conditioning_channel_order", "bgr");
        ModelFolder bgrFolder = withConfig(golden, new ModelConfig("bgr/config.json", values));
        try (SdxlControlNet bgr = SdxlControlNet.load("canny", bgrFolder, TestEngine.manager(), TestEngine.kernels(),
                TestEngine.dtype()); NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput input = randomInput(m, new Random(9), 77);
            NDArray image = m.randomUniform(0, 1, new Shape(2, 3, 64, 64));
            NDArray flipped = image.flip(1);
            assertArrayEquals(controlNet.residuals(m, input, flipped, 1, GoldenModel.context(1)).mid().toFloatArray(),
                    bgr.residuals(m, input, image, 1, GoldenModel.context(1)).mid().toFloatArray());
        }
        values.put("controlnet_conditioning_channel_order", "grb");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ControlNetConfig.from(new ModelConfig(
                "x/config.json", values))).getMessage().contains("'controlnet_conditioning_channel_order'"));
        values.put("controlnet_conditioning_channel_order", "rgb");
        values.put("global_pool_conditions", true);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ControlNetConfig.from(new ModelConfig(
                "x/config.json", values))).getMessage().startsWith("x/config.json: 'global_pool_conditions'"));
    }

    @Test
    void onlyTheResidualsStayBehind() {
        try (NDManager m = TestEngine.manager().newSubManager()) {
            DenoisingInput input = randomInput(m, new Random(4), 85);
            NDArray image = m.randomUniform(0, 1, new Shape(2, 3, 64, 64));
            int before = m.getManagedArrays().size();
            int root = TestEngine.manager().getManagedArrays().size();
            ControlResiduals r = controlNet.residuals(m, input, image, 0.5f, GoldenModel.context(1));
            // plus the keys and values of the constant context, cached per generation for the 6 cross-attention
            // layers of the tiny ControlNet (owned by the context's manager)
            int expected = 7 + 2 * 6;
            assertEquals(before + expected, m.getManagedArrays().size(), "residuals and cached context projections");
            assertEquals(root + expected, TestEngine.manager().getManagedArrays().size(), "nothing elsewhere either");
            assertEquals(new Shape(2, 64, 4, 4), r.mid().getShape());
        }
    }

    @Test
    void runsInBf16() {
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of("cpu", "bfloat16"));
                LocalModelFolder folder = new LocalModelFolder(Golden.model().resolve("controlnet"), Optional.empty(),
                        engine.device(), engine.computeDType(), engine.kernels());
                SdxlControlNet bf16 = SdxlControlNet.load("canny", folder, engine.manager(), engine.kernels(),
                        engine.computeDType());
                GoldenCase c = GoldenCase.open("controlnet_text_only");
                NDManager m = engine.manager().newSubManager()) {
            Kernels k = engine.kernels();
            DenoisingInput f32 = c.unetInput(m, 0, "negative_prompt_embeds", "prompt_embeds");
            DenoisingInput input = new DenoisingInput(k.cast(f32.latents(), ComputeDType.BFLOAT16), f32.timestep(),
                    EncoderContext.text(k.cast(f32.context().text(), ComputeDType.BFLOAT16)), k.cast(f32.pooled(), ComputeDType.BFLOAT16),
                    f32.timeIds(), null);
            ControlResiduals r = bf16.residuals(m, input, c.array(m, "controlnet.cond_image"), 0.8f,
                    GoldenModel.context(1));
            assertEquals(ComputeDType.BFLOAT16, k.dtypeOf(r.mid()));
            for (int j = 0; j < 6; j++) {
                c.tensors.assertClose("step0.controlnet.down." + j, r.down().get(j), 0.1);
            }
            c.tensors.assertClose("step0.controlnet.mid", r.mid(), 0.1);
        }
    }

    /** CFG-doubled random latents and a random context of {@code tokens} tokens. */
    private static DenoisingInput randomInput(NDManager m, Random random, int tokens) {
        NDArray latents = RandomTensors.gaussian(m, random, 2, 4, 8, 8);
        NDArray context = RandomTensors.gaussian(m, random, 2, tokens, 64);
        NDArray pooled = RandomTensors.gaussian(m, random, 2, 32);
        float[] ids = {64, 64, 0, 0, 64, 64, 64, 64, 0, 0, 64, 64};
        return new DenoisingInput(latents, 600, EncoderContext.text(context), pooled, m.create(ids, new Shape(2, 6)), null);
    }

    private static ModelFolder withConfig(ModelFolder folder, ModelConfig config) {
        return new ModelFolder() {
            @Override
            public Path path() {
                return folder.path();
            }

            @Override
            public ModelConfig config() {
                return config;
            }

            @Override
            public ModelConfig json(String fileName) {
                return folder.json(fileName);
            }

            @Override
            public ModelWeights weights() {
                return folder.weights();
            }

            @Override
            public Path file(String name) {
                return folder.file(name);
            }
        };
    }

    /** A component context with the given model paths and {@code type} option on the test engine. */
    private static ComponentContext context(Map<String, Path> paths, String type) {
        Options options = Options.of("options", type == null ? Map.of()
                : Map.of(Conditioner.CONTROL_TYPE.name(), type));
        return new ComponentContext() {
            @Override
            public Device device() {
                return TestEngine.engine().device();
            }

            @Override
            public ComputeDType dtype() {
                return TestEngine.dtype();
            }

            @Override
            public Kernels kernels() {
                return TestEngine.kernels();
            }

            @Override
            public NDManager manager() {
                return TestEngine.manager();
            }

            @Override
            public ModelFolder model(String key) {
                return TestEngine.folder(paths.get(key));
            }

            @Override
            public ModelWeights checkpoint(String key) {
                throw new UnsupportedOperationException(key);
            }

            @Override
            public Optional<Path> path(String key) {
                return Optional.ofNullable(paths.get(key));
            }

            @Override
            public ModelConfig pipelineConfig() {
                return new ModelConfig("(none)", Map.of());
            }

            @Override
            public Options options() {
                return options;
            }
        };
    }
}

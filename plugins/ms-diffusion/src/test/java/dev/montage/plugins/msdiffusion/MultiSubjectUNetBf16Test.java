package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.testing.TestEngine;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The UNet with multi-subject attention on a bfloat16 engine (weights, activations, masks in bf16; sinusoids in
 * float32) against the float32 reference. bf16 keeps 8 significant bits, so the tolerance is loose; the measured
 * errors are printed.
 */
class MultiSubjectUNetBf16Test {
    private static final double ATOL = 0.1;

    private static MontageEngine engine;
    private static FolderComponentContext context;
    private static DenoisingModel unet;
    private static AttentionProcessor multiSubject;

    @BeforeAll
    static void load() {
        List<AttentionLayerSpec> layers = GoldenModel.unetLayers();
        engine = MontageEngine.start(EngineConfig.of("cpu", "bfloat16"));
        context = TestContext.model(engine);
        unet = GoldenModel.unet(context);
        multiSubject = new MultiSubjectAttentionFactory().create(context.forAttentionProcessor("test", Map.of(),
                layers));
        unet.useAttentionProcessors(name -> multiSubject);
    }

    @AfterAll
    static void close() {
        if (context != null) {
            context.close();
        }
        if (engine != null) {
            engine.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"single_subject_euler", "two_subjects_ddim"})
    void bf16NoisePredictionStaysCloseToTheFloat32Reference(String name) {
        assertCloseToTheFloat32Reference(unet, name);
    }

    /** Packed bf16 weights laid out and multiplied at other thread counts than the engine's. */
    @ParameterizedTest
    @ValueSource(ints = {1, 3, 4})
    void bf16NoisePredictionStaysCloseAtOtherThreadCounts(int threads) {
        TestEngine.withIntraOpThreads(threads, () -> {
            DenoisingModel loaded = GoldenModel.unet(context);
            try {
                loaded.useAttentionProcessors(name -> multiSubject);
                assertCloseToTheFloat32Reference(loaded, "two_subjects_ddim");
            } finally {
                close(loaded);
            }
        });
    }

    private static void assertCloseToTheFloat32Reference(DenoisingModel model, String name) {
        try (GoldenCase c = GoldenCase.open(name); NDManager m = engine.manager().newSubManager()) {
            DenoisingModel.DenoisingInput f32 = c.unetInput(m, 0, "uncond_embeds_full", "cond_embeds_full",
                    MultiSubjectAttentionGoldenTest.layout(c));
            NDArray eps = model.predictNoise(m, new DenoisingModel.DenoisingInput(bf16(f32.latents()),
                    f32.timestep(), TestLayout.map(f32.context(), MultiSubjectUNetBf16Test::bf16), bf16(f32.pooled()), bf16(f32.timeIds()), null),
                    layoutContext(c));
            assertEquals(ComputeDType.BFLOAT16, engine.kernels().dtypeOf(eps));
            c.tensors.assertClose("step0.noise_pred", eps, ATOL);
        }
    }

    /**
     * The golden latents are 8x8, so the attention level sees 16 positions; at 32x32 it sees 256, and bf16
     * self-attention leaves the kernels' few-keys path for their chunked one. Compared with a float32 UNet on the
     * same inputs.
     */
    @Test
    void bf16NoisePredictionOnLargerLatentsStaysCloseToFloat32() {
        try (MontageEngine f32Engine = MontageEngine.start(EngineConfig.of("cpu", "float32"));
                FolderComponentContext f32Context = TestContext.model(f32Engine);
                GoldenCase c = GoldenCase.open("two_subjects_ddim");
                NDManager m = engine.manager().newSubManager()) {
            DenoisingModel f32Unet = GoldenModel.unet(f32Context);
            AttentionProcessor f32MultiSubject = new MultiSubjectAttentionFactory().create(
                    f32Context.forAttentionProcessor("test", Map.of(), f32Unet.attentionLayers()));
            f32Unet.useAttentionProcessors(name -> f32MultiSubject);
            DenoisingModel.DenoisingInput golden = c.unetInput(m, 0, "uncond_embeds_full", "cond_embeds_full",
                    MultiSubjectAttentionGoldenTest.layout(c));
            NDArray latents = golden.latents().repeat(2, 4).repeat(3, 4);
            assertEquals(32, latents.getShape().get(3));

            NDArray expected = f32Unet.predictNoise(m, new DenoisingModel.DenoisingInput(latents, golden.timestep(),
                    golden.context(), golden.pooled(), golden.timeIds(), null), layoutContext(c));
            NDArray eps = unet.predictNoise(m, new DenoisingModel.DenoisingInput(bf16(latents), golden.timestep(),
                    TestLayout.map(golden.context(), MultiSubjectUNetBf16Test::bf16), bf16(golden.pooled()), bf16(golden.timeIds()), null), layoutContext(c));

            NDArray eps32 = engine.kernels().cast(eps, ComputeDType.FLOAT32);
            assertEquals(expected.getShape(), eps32.getShape());
            float err = expected.sub(eps32).abs().max().getFloat();
            System.out.printf("unet bf16 noise prediction on 32x32 latents: max-abs error %.3g against float32%n", err);
            assertTrue(err < ATOL, "bf16 noise prediction off by " + err);
        }
    }

    /** A fresh generation (the UNet caches per generation). */
    private static GenerationContext layoutContext(GoldenCase c) {
        return GoldenModel.context(c.steps());
    }

    private static void close(DenoisingModel model) {
        try {
            ((AutoCloseable) model).close();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static NDArray bf16(NDArray x) {
        return engine.kernels().cast(x, ComputeDType.BFLOAT16);
    }
}

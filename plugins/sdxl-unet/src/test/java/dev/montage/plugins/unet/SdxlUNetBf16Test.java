package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.api.SubjectLayout;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The UNet with multi-subject attention on a bfloat16 engine (weights, activations, masks in bf16; sinusoids in
 * float32) against the float32 reference. bf16 keeps 8 significant bits, so the tolerance is loose; the measured
 * errors are printed.
 */
class SdxlUNetBf16Test {
    private static final double ATOL = 0.1;

    private static MontageEngine engine;
    private static FolderComponentContext context;
    private static DenoisingModel unet;
    private static AttentionProcessor multiSubject;

    @BeforeAll
    static void load() {
        GoldenModel.unetConfig();
        engine = MontageEngine.start(EngineConfig.of("cpu", "bfloat16"));
        context = TestContext.golden(engine, Map.of());
        unet = new SdxlUNetFactory().create(context);
        multiSubject = new MultiSubjectAttentionFactory().create(context);
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
        try (GoldenCase c = GoldenCase.open(name); NDManager m = engine.manager().newSubManager()) {
            GenerationContext ctx = GoldenModel.context(c.steps());
            SubjectLayout layout = MultiSubjectAttentionGoldenTest.layout(c);
            ctx.put(SubjectLayout.KEY, layout);
            DenoisingModel.DenoisingInput f32 = c.unetInput(m, 0, "uncond_embeds_full", "cond_embeds_full");
            NDArray eps = unet.predictNoise(m, new DenoisingModel.DenoisingInput(bf16(f32.latents()),
                    f32.timestep(), bf16(f32.context()), bf16(f32.pooled()), bf16(f32.timeIds()), null), ctx);
            assertEquals(ComputeDType.BFLOAT16, engine.kernels().dtypeOf(eps));
            c.tensors.assertClose("step0.noise_pred", eps, ATOL);
        }
    }

    private static NDArray bf16(NDArray x) {
        return engine.kernels().cast(x, ComputeDType.BFLOAT16);
    }
}

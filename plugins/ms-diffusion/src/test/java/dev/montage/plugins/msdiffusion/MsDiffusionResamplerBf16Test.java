package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.testing.Golden;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The resampler on a bfloat16 engine (weights and activations in bf16, softmax in float32) against the float32
 * reference. bf16 keeps 8 significant bits, so the tolerance is loose: the measured errors are printed.
 */
class MsDiffusionResamplerBf16Test {
    /**
     * The outputs are layer-normed with |x| up to 3, where neighbouring bf16 values are 1/64 apart; measured
     * 0.021 and 0.030 (about two such steps) on the two cases.
     */
    private static final double ATOL = 0.1;

    private static MontageEngine engine;
    private static FolderComponentContext context;
    private static SubjectResampler resampler;

    @BeforeAll
    static void load() {
        Golden.model();
        engine = MontageEngine.start(EngineConfig.of("cpu", "bfloat16"));
        context = TestContext.golden(engine, Golden.model().resolve("resampler_config.json"));
        resampler = new MsDiffusionResamplerFactory().create(context);
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
    void bf16ResultsStayCloseToTheFloat32Reference(String name) {
        try (GoldenCase c = GoldenCase.open(name); NDManager m = engine.manager().newSubManager()) {
            int n = c.subjects();
            // float32 inputs are converted by the resampler; bf16 ones are taken as they are
            NDArray fromFloat32 = resampler.resample(m, c.imageEmbeds(m), c.phraseEmbeds(m), c.boxes(m),
                    new boolean[n]);
            NDArray fromBf16 = resampler.resample(m, bf16(c.imageEmbeds(m)), bf16(c.phraseEmbeds(m)),
                    bf16(c.boxes(m)), new boolean[n]);
            assertEquals(ComputeDType.BFLOAT16, engine.kernels().dtypeOf(fromFloat32));
            c.tensors.assertClose("resampler_out", fromFloat32, ATOL);
            c.tensors.assertClose("resampler_out", fromBf16, ATOL);
            NDArray sequence = resampler.dummyTokens(m)
                    .concat(fromFloat32.reshape(1, (long) n * resampler.tokensPerSubject(), resampler.outputDim()), 1);
            c.tensors.assertClose("image_prompt_embeds", sequence, ATOL);
        }
    }

    private static NDArray bf16(NDArray x) {
        return engine.kernels().cast(x, ComputeDType.BFLOAT16);
    }
}

package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;
import dev.montage.runtime.testing.TestEngine;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The plain SDXL UNet (default attention everywhere) against diffusers' stage outputs of {@code plain_sdxl_euler}:
 * every {@code step0.unet.*} tensor of the fixture and the raw noise prediction of every step, with the case's
 * tolerances.
 */
class SdxlUNetGoldenTest {
    private static final String CASE = "plain_sdxl_euler";
    private static SdxlUNet unet;

    @BeforeAll
    static void load() {
        unet = GoldenModel.unet();
    }

    @AfterAll
    static void close() {
        if (unet != null) {
            unet.close();
        }
    }

    @Test
    void everyStepZeroStageMatches() {
        try (GoldenCase c = GoldenCase.open(CASE); NDManager m = TestEngine.manager().newSubManager();
                StageCapture capture = new StageCapture(m)) {
            GenerationContext ctx = GoldenModel.context(c.steps());
            ctx.put(StageCapture.KEY, capture);
            NDArray eps = unet.predictNoise(m,
                    c.unetInput(m, 0, "negative_prompt_embeds", "prompt_embeds"), ctx);
            assertEquals(43, c.assertStepZeroStages(capture.stages()), "stages in the fixture");
            c.assertClose("step0.noise_pred", eps);
        }
    }

    @Test
    void everyStepsNoisePredictionMatches() {
        try (GoldenCase c = GoldenCase.open(CASE); NDManager m = TestEngine.manager().newSubManager()) {
            GenerationContext ctx = GoldenModel.context(c.steps());
            for (int i = 0; i < c.steps(); i++) {
                ctx.setStep(i, c.steps());
                NDArray eps = unet.predictNoise(m, c.unetInput(m, i, "negative_prompt_embeds", "prompt_embeds"), ctx);
                c.assertClose("step" + i + ".noise_pred", eps);
            }
        }
    }

    /**
     * A UNet loaded and run at another thread count than the engine's: oneDNN lays weights out and partitions the
     * products by it (PyTorch 2.7.1 packed float32 weights wrongly above two threads).
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 3, 4})
    void theFirstNoisePredictionMatchesAtOtherThreadCounts(int threads) {
        TestEngine.withIntraOpThreads(threads, () -> {
            try (SdxlUNet loaded = GoldenModel.unet(); GoldenCase c = GoldenCase.open(CASE);
                    NDManager m = TestEngine.manager().newSubManager()) {
                NDArray eps = loaded.predictNoise(m, c.unetInput(m, 0, "negative_prompt_embeds", "prompt_embeds"),
                        GoldenModel.context(c.steps()));
                c.assertClose("step0.noise_pred", eps);
            }
        });
    }
}
